#!/usr/bin/env bash
# deploy/build-images.sh — build the container images of the three services and tag them
# [REGISTRY/]lifeboat/<service>:<TAG>, the names the Helm chart (deploy/charts/lifeboat) uses by default.
#
# Usage: deploy/build-images.sh [--native] [--registry REGISTRY] [--tag TAG] [--push] [--skip-build]
#                               [--pg-majors "13 14 15 16 17"] [--engine docker|podman] [SERVICE...]
#   --native          native executables, built inside the Mandrel builder image by each Dockerfile.native
#                     (multi-stage: no local GraalVM; several GB of memory and minutes per service).
#                     Default: JVM images of the applications ./mvnw packages here.
#   --registry R      prefix the image names, e.g. --registry ghcr.io/acme → ghcr.io/acme/lifeboat/backup-service
#   --tag T           image tag; default: the project version without -SNAPSHOT (0.1.0)
#   --push            push the service images after building them (log in to the registry first)
#   --skip-build      JVM: use the existing */target/quarkus-app instead of running ./mvnw package first
#   --pg-majors LIST  PostgreSQL client majors in the images; default "13 14 15 16 17"
#   --engine E        docker or podman; default LIFEBOAT_CONTAINER_ENGINE, else docker if installed, else podman
#   SERVICE...        backup-service, restore-service, verify-service (default: all three)
#
# Steps: (1) JVM, unless --skip-build: ./mvnw -B -DskipTests package for the services (JAVA_HOME: a JDK >= 21);
# (2) the runtime base, deploy/docker/Dockerfile.runtime, as the local image lifeboat/runtime-jvm:TAG (or
# runtime-native): Debian slim, the PostgreSQL clients of every major in --pg-majors, age, zstd, user 1001
# (plus a Temurin JRE for JVM images); (3) each service's src/main/docker/Dockerfile.jvm (context: the module)
# or Dockerfile.native (context: the repository root), FROM that base; (4) with --push, the service images
# are pushed (the base is not: the service images contain it). With Docker, use the default builder: a
# docker-container buildx builder cannot see the local base image.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALL_SERVICES=(backup-service restore-service verify-service)

die() { printf 'build-images.sh: error: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'build-images.sh: %s (try --help)\n' "$*" >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

native=0
registry=""
tag=""
push=0
skip_build=0
pg_majors="13 14 15 16 17"
engine=${LIFEBOAT_CONTAINER_ENGINE:-}
services=()
while (( $# )); do
    case $1 in
        --native) native=1; shift ;;
        --registry) need_value "$@"; registry=${2%/}; shift 2 ;;
        --tag) need_value "$@"; tag=$2; shift 2 ;;
        --push) push=1; shift ;;
        --skip-build) skip_build=1; shift ;;
        --pg-majors) need_value "$@"; pg_majors=$2; shift 2 ;;
        --engine) need_value "$@"; engine=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) usage_error "unknown option '$1'" ;;
        *)
            [[ " ${ALL_SERVICES[*]} " == *" $1 "* ]] || usage_error "unknown service '$1' (one of: ${ALL_SERVICES[*]})"
            services+=("$1"); shift ;;
    esac
done
(( ${#services[@]} )) || services=("${ALL_SERVICES[@]}")
[[ $pg_majors =~ ^[0-9]+( [0-9]+)*$ ]] || usage_error "--pg-majors takes majors separated by spaces, e.g. \"15 16 17\""

if [[ -z $tag ]]; then
    version=$(sed -n 's:.*<version>\([^<]*\)</version>.*:\1:p' "$REPO_ROOT/pom.xml" | head -n1)
    [[ -n $version ]] || die "cannot read the project version from $REPO_ROOT/pom.xml; pass --tag"
    tag=${version%-SNAPSHOT}
fi
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "'$tag' is not a valid image tag"

if [[ -z $engine ]]; then
    if command -v docker >/dev/null 2>&1; then engine=docker
    elif command -v podman >/dev/null 2>&1; then engine=podman
    else
        die "neither docker nor podman is installed; install one (https://docs.docker.com/engine/install/ or
  'apt-get install podman'), or build where one is. Nothing was built."
    fi
fi
[[ $engine == docker || $engine == podman ]] || usage_error "--engine is docker or podman, got '$engine'"
command -v "$engine" >/dev/null 2>&1 || die "$engine is not installed"
# Before the Maven build, so a missing daemon costs no time.
if ! engine_info=$("$engine" info 2>&1 >/dev/null); then
    die "$engine is installed but cannot build: $(printf '%s' "$engine_info" | tail -n 3)
  Start its daemon (e.g. systemctl start docker) or use the other engine (--engine). Nothing was built."
fi

kind=jvm
(( native )) && kind=native
base="lifeboat/runtime-$kind:$tag"
labels=(--label "org.opencontainers.image.version=$tag")
if revision=$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null); then
    labels+=(--label "org.opencontainers.image.revision=$revision")
fi

cd "$REPO_ROOT"
if (( ! native && ! skip_build )); then
    printf '==> Packaging %s with Maven\n' "${services[*]}" >&2
    run ./mvnw -B -DskipTests package -pl "$(IFS=,; echo "${services[*]}")" -am \
        || die "the Maven build failed (output above); it needs a JDK >= 21 in JAVA_HOME or on the PATH"
fi
if (( ! native )); then
    for svc in "${services[@]}"; do
        [[ -f $svc/target/quarkus-app/quarkus-run.jar ]] \
            || die "$svc/target/quarkus-app/quarkus-run.jar is missing: run without --skip-build"
    done
fi

printf '==> Runtime base %s (PostgreSQL clients %s, age, zstd)\n' "$base" "$pg_majors" >&2
run "$engine" build --target "$kind" --build-arg "PG_MAJORS=$pg_majors" "${labels[@]}" -t "$base" \
    -f deploy/docker/Dockerfile.runtime deploy/docker

built=()
for svc in "${services[@]}"; do
    image="${registry:+$registry/}lifeboat/$svc:$tag"
    printf '==> %s\n' "$image" >&2
    if (( native )); then
        run "$engine" build --build-arg "RUNTIME_IMAGE=$base" "${labels[@]}" -t "$image" \
            -f "$svc/src/main/docker/Dockerfile.native" .
    else
        run "$engine" build --build-arg "RUNTIME_IMAGE=$base" "${labels[@]}" -t "$image" \
            -f "$svc/src/main/docker/Dockerfile.jvm" "$svc"
    fi
    built+=("$image")
done

if (( push )); then
    for image in "${built[@]}"; do
        printf '==> Pushing %s\n' "$image" >&2
        run "$engine" push "$image"
    done
fi
printf '\nBuilt (%s):\n' "$kind"
printf '  %s\n' "${built[@]}"
