package dev.lifeboat.common.model;

/** Why a backup was taken. */
public enum Trigger {
    SCHEDULED, MANUAL, PRE_RESTORE
}
