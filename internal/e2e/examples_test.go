package e2e_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exampleRepoRoot is the repository root seen from this package's directory, where `go test`
// runs. pylon validate runs there because the configs name files (certificates, CA files)
// relative to the working directory, as a user running them from a checkout would.
const exampleRepoRoot = "../.."

// validateFromRepoRoot runs `pylon validate -c path` in the repository root (a relative path
// is relative to it) and returns pylon's output and an error unless it exits 0.
func validateFromRepoRoot(path string) ([]byte, error) {
	cmd := exec.Command(pylonBin, "validate", "-c", path)
	cmd.Dir = exampleRepoRoot
	return cmd.CombinedOutput()
}

// TestExamplesValidate checks that every examples/*.yaml passes `pylon validate`.
func TestExamplesValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(exampleRepoRoot, "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no examples/*.yaml under %s", exampleRepoRoot)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			rel := filepath.Join("examples", name)
			if out, err := validateFromRepoRoot(rel); err != nil {
				t.Errorf("pylon validate -c %s: %v\n%s", rel, err, out)
			}
		})
	}
}

// docExample is one fenced YAML block of a Markdown file.
type docExample struct {
	line int    // line of the opening fence, 1-based
	yaml bool   // the fence is ```yaml
	text string // the block, without its fences
}

// yamlDocExamples returns the ```yaml blocks of a Markdown document whose first line is a
// comment starting with "# example": the complete configs. Other YAML blocks are fragments.
func yamlDocExamples(md []byte) ([]docExample, error) {
	var out []docExample
	var cur *docExample
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &docExample{line: n, yaml: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")) == "yaml"}
			body.Reset()
		case cur != nil && trimmed == "```":
			if cur.yaml {
				text := body.String()
				first, _, _ := strings.Cut(strings.TrimLeft(text, "\n"), "\n")
				if strings.HasPrefix(strings.TrimSpace(first), "# example") {
					cur.text = text
					out = append(out, *cur)
				}
			}
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("the code block opened on line %d is never closed", cur.line)
	}
	return out, nil
}

// TestConfigDocExamplesLoad checks that every complete example of docs/config.md and the
// README (a ```yaml block starting with "# example") passes `pylon validate`.
func TestConfigDocExamplesLoad(t *testing.T) {
	for _, doc := range []string{"docs/config.md", "docs/llm.md", "README.md"} {
		t.Run(doc, func(t *testing.T) { docExamplesValidate(t, doc) })
	}
}

func docExamplesValidate(t *testing.T, doc string) {
	md, err := os.ReadFile(filepath.Join(exampleRepoRoot, doc))
	if err != nil {
		t.Fatal(err)
	}
	examples, err := yamlDocExamples(md)
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if len(examples) == 0 {
		t.Fatalf("%s has no ```yaml block starting with \"# example\"", doc)
	}
	dir := t.TempDir()
	for _, ex := range examples {
		t.Run(fmt.Sprintf("line%d", ex.line), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("%s-line%d.yaml", filepath.Base(doc), ex.line))
			if err := os.WriteFile(path, []byte(ex.text), 0o644); err != nil {
				t.Fatal(err)
			}
			absPath, err := filepath.Abs(path)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := validateFromRepoRoot(absPath); err != nil {
				t.Errorf("%s:%d: the example does not validate: %v\n%s\n--- the example:\n%s", doc, ex.line, err, out, ex.text)
			}
		})
	}
}
