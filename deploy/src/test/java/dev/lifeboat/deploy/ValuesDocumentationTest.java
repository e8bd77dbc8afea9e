package dev.lifeboat.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every key of the chart's values.yaml is documented in the helm-docs style: a `# --` comment above it, or above
 * an enclosing key that documents the whole value (a map of examples, a resources block); a key whose default is
 * empty shows an example. (That every key is also in values.schema.json follows from the default values
 * rendering, since the schema refuses unknown keys.)
 */
class ValuesDocumentationTest {
    private static final Pattern KEY = Pattern.compile("^( *)([A-Za-z0-9_.\\-/]+|\"[^\"]+\"):(.*)$");

    /** One key of values.yaml: where it is, whether a `# --` comment documents it, and what it holds. */
    private static final class Key {
        final String path;
        final int indent;
        final String docs;
        final String value;
        final List<Key> children = new ArrayList<>();

        Key(String path, int indent, String docs, String value) {
            this.path = path;
            this.indent = indent;
            this.docs = docs;
            this.value = value;
        }

        boolean documented() {
            return docs.contains("# --");
        }
    }

    @Test
    void everyKeyIsDocumentedAndEveryEmptyDefaultHasAnExample() throws IOException {
        List<String> lines = Files.readAllLines(Chart.dir().resolve("values.yaml"));
        Key root = new Key("", -1, "", "");
        List<Key> stack = new ArrayList<>(List.of(root));
        StringBuilder comments = new StringBuilder();
        for (String line : lines) {
            String trimmed = line.strip();
            if (trimmed.startsWith("#")) {
                comments.append(trimmed).append('\n');
                continue;
            }
            Matcher m = KEY.matcher(line);
            if (trimmed.isEmpty() || trimmed.startsWith("-") || !m.matches()) {
                comments.setLength(0); // list items and blank lines end a comment block
                continue;
            }
            int indent = m.group(1).length();
            while (stack.get(stack.size() - 1).indent >= indent) {
                stack.remove(stack.size() - 1);
            }
            Key parent = stack.get(stack.size() - 1);
            Key key = new Key(parent.path.isEmpty() ? m.group(2) : parent.path + "." + m.group(2), indent,
                    comments.toString(), m.group(3).strip());
            parent.children.add(key);
            stack.add(key);
            comments.setLength(0);
        }
        List<String> undocumented = new ArrayList<>();
        List<String> withoutExample = new ArrayList<>();
        for (Key top : root.children) {
            check(top, false, undocumented, withoutExample);
        }
        assertThat(root.children).extracting(k -> k.path)
                .containsExactly("global", "backup-service", "restore-service", "verify-service", "monitoring");
        assertThat(undocumented).as("keys without a `# --` comment").isEmpty();
        assertThat(withoutExample).as("empty defaults without an example").isEmpty();
    }

    private static boolean check(Key key, boolean documentedAbove, List<String> undocumented, List<String> withoutExample) {
        if (key.documented() && List.of("\"\"", "{}", "[]").contains(key.value)
                && !key.docs.contains("Example") && !key.docs.contains("example")) {
            withoutExample.add(key.path);
        }
        if (documentedAbove || key.documented()) {
            key.children.forEach(c -> check(c, true, undocumented, withoutExample));
            return true;
        }
        boolean allChildren = !key.children.isEmpty();
        for (Key child : key.children) {
            allChildren &= check(child, false, undocumented, withoutExample);
        }
        if (!allChildren && key.children.isEmpty()) {
            undocumented.add(key.path);
        }
        return allChildren;
    }
}
