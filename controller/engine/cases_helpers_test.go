package engine_test

import "strings"

// leaves are templates every generated workflow has: fn (no inputs), echo
// (input x) and flaky (retried).
const leaves = `
  - name: fn
    function: {name: fn}
  - name: echo
    inputs:
      parameters: [{name: x}]
    function: {name: echo}
`

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// dagWF is a workflow whose entrypoint "main" is a dag of the given tasks
// (a YAML list), with extra spec lines and extra templates.
func dagWF(tasks string, extra ...string) string {
	spec, templates := "", ""
	if len(extra) > 0 {
		spec = extra[0]
	}
	if len(extra) > 1 {
		templates = extra[1]
	}
	return "spec:\n  entrypoint: main\n" + indent(spec, 2) + "  templates:\n  - name: main\n    dag:\n      tasks:\n" +
		indent(tasks, 6) + leaves + indent(templates, 2)
}

// stepsWF is a workflow whose entrypoint "main" is a steps template.
func stepsWF(groups string, extra ...string) string {
	spec, templates := "", ""
	if len(extra) > 0 {
		spec = extra[0]
	}
	if len(extra) > 1 {
		templates = extra[1]
	}
	return "spec:\n  entrypoint: main\n" + indent(spec, 2) + "  templates:\n  - name: main\n    steps:\n" +
		indent(groups, 4) + leaves + indent(templates, 2)
}
