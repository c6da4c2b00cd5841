package main

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bench"
)

// TestBenchHostileAgainstTheRealBridge runs a few `bench --hostile` cases against the real
// bridge as a child process: the generated config is accepted, and the sign-in, the form
// token, the webhook registration and the API key work, so that the cases reach the checks
// they are about instead of being refused at the door. CPU and RSS are not asserted: they
// depend on the machine.
func TestBenchHostileAgainstTheRealBridge(t *testing.T) {
	t.Parallel()
	launch := func(_ context.Context, cfgPath, _ string) (*bench.Running, error) {
		c := startChild(t, cfgPath)
		return &bench.Running{Addr: strings.TrimPrefix(c.url, "http://"), PID: c.cmd.Process.Pid,
			Stop: func() error { return c.cmd.Process.Signal(syscall.SIGTERM) }}, nil
	}
	rep, err := bench.Hostile(context.Background(), bench.HostileOptions{Launch: launch, LaunchName: "child", Dir: t.TempDir(),
		Cases: []string{"control", "webhook test send", "sign-in with a 15", "events list"}})
	require.NoError(t, err)
	require.Len(t, rep.Cases, 4)
	byName := map[string]bench.HostileResult{}
	for _, c := range rep.Cases {
		require.True(t, c.Up, "%s: %s", c.Name, c.Why)
		require.Empty(t, c.Killed, c.Name)
		require.GreaterOrEqual(t, c.IdleAfterS, 0.0, "%s: idle again after the case", c.Name)
		byName[c.Name] = c
	}
	control := byName["control: a valid issue.critical event"]
	require.Equal(t, map[string]int{"200": 20}, control.Statuses, "signed, fresh, unique: accepted")
	require.Positive(t, control.Deliveries, "the targets at the receiver got the events")

	test := byName["webhook test send, event field of max_body_bytes"]
	require.Equal(t, 10, test.Requests, "signed in and registered a webhook: %s", test.Why)
	require.NotContains(t, test.Statuses, "403", "the form token was accepted: %s", test.FirstAnswer)
	require.NotContains(t, test.Statuses, "303", "the session was accepted")

	signIn := byName["sign-in with a 15.9 KiB key"]
	require.Equal(t, map[string]int{"401": 9}, signIn.Statuses, "a wrong key, read and refused: %s", signIn.FirstAnswer)

	api := byName["POST /webhooks: an events list of ~5 000 names (64 KiB)"]
	require.Equal(t, 10, api.Requests)
	require.NotContains(t, api.Statuses, "401", "the API key was accepted: %s", api.FirstAnswer)
}
