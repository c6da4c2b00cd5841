package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sessionTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"RevokedSessionsUntilTheyExpire": testRevokedSessions,
	}
}

// testRevokedSessions: a signed-out session is reported revoked until its record expires, a
// second sign-out of it moves the expiry, and expired records are deleted.
func testRevokedSessions(t *testing.T, s Store) {
	ctx := context.Background()
	revoked := func(id string, at time.Time) bool {
		t.Helper()
		ok, err := s.SessionRevoked(ctx, id, at)
		require.NoError(t, err)
		return ok
	}
	require.False(t, revoked("s1", t0))
	require.NoError(t, s.RevokeSession(ctx, "s1", t0.Add(time.Hour), t0))
	require.NoError(t, s.RevokeSession(ctx, "s2", t0.Add(2*time.Hour), t0))
	tests := []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"s1", t0, true},
		{"s1", t0.Add(time.Hour), true},
		{"s1", t0.Add(time.Hour + time.Millisecond), false},
		{"s2", t0.Add(90 * time.Minute), true},
		{"s3", t0, false},
		{"S1", t0, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, revoked(tt.id, tt.at), "%s at %s", tt.id, tt.at)
	}
	// Signing out again (another copy of the cookie) extends the record.
	require.NoError(t, s.RevokeSession(ctx, "s1", t0.Add(3*time.Hour), t0))
	require.True(t, revoked("s1", t0.Add(150*time.Minute)))
	// A revocation at t0+2h30 deletes s2's expired record: even asked about an earlier time,
	// it is gone.
	require.NoError(t, s.RevokeSession(ctx, "s4", t0.Add(4*time.Hour), t0.Add(150*time.Minute)))
	require.False(t, revoked("s2", t0))
	require.True(t, revoked("s1", t0))
	require.True(t, revoked("s4", t0.Add(4*time.Hour)))
}
