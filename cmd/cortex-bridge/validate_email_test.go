package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateInternationalEmail: `validate` warns, by key path, about an address that needs
// SMTPUTF8, and refuses an invalid international domain by key path and line.
func TestValidateInternationalEmail(t *testing.T) {
	t.Parallel()
	const base = `
ingest: {secrets: [s3cret-value]}
targets:
  - name: mail
    type: email
    smtp: {host: smtp.example.com}
    from: Cortex <alerts@bücher.example>
    to: [secops@bücher.example, %s]
routes:
  - {name: all, when: 'true', targets: [mail]}
`
	tests := map[string]struct {
		to      string
		wantOut string
		wantErr string
	}{
		"unicode local part": {to: "jörg@example.com",
			wantOut: `warning: targets[0].to[1]: "jörg@example.com" has a non-ASCII local part: it can only be sent to an SMTP server that offers SMTPUTF8 (RFC 6531); others are refused without sending (target mail)`},
		"invalid domain": {to: "ops@bü_cher.example",
			wantErr: `line 8: targets[0].to[1]: "ops@bü_cher.example": the domain "bü_cher.example" is not a valid international domain name`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(base, tc.to)), 0o600))
			out, _, err := run(t, "validate", "--config", cfg)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Contains(t, out, tc.wantOut)
		})
	}
}
