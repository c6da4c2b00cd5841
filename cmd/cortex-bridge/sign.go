package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/signature"
)

func newSign() *cobra.Command {
	var secret string
	c := &cobra.Command{
		Use:   "sign --secret S [FILE]",
		Short: "Print the X-Cortex-Signature value (sha256=…) for a body (FILE or stdin), byte for byte",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			var err error
			if len(args) == 1 && args[0] != "-" {
				body, err = os.ReadFile(args[0])
			} else {
				body, err = io.ReadAll(cmd.InOrStdin())
			}
			if err != nil {
				return err
			}
			sig, err := signature.Sign(secret, body)
			if err != nil {
				return fmt.Errorf("--secret: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), sig)
			return nil
		},
	}
	c.Flags().StringVar(&secret, "secret", "", "shared secret (required)")
	_ = c.MarkFlagRequired("secret")
	return c
}
