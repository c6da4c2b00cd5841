package deploy_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCIRunsTheReadmesTestCommand: the README's first code block holds two commands, the bridge
// on the shipped config and every test; .ci/run runs that test command, written the same way,
// as its last command (after gofmt and go vet), so CI and a new user run the same thing.
func TestCIRunsTheReadmesTestCommand(t *testing.T) {
	t.Parallel()
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(read(t, readme))
	require.NotNil(t, block, "README.md has a sh code block")
	var cmds []string
	for _, l := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			cmds = append(cmds, l)
		}
	}
	require.Len(t, cmds, 2, "README.md's first block: run the bridge, run every test")
	require.Equal(t, "go run ./cmd/cortex-bridge serve", cmds[0])

	var last string
	for _, l := range strings.Split(read(t, "../.ci/run"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			last = l
		}
	}
	require.Equal(t, cmds[1], last, ".ci/run ends with the README's test command")
}
