package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func newTest() *cobra.Command {
	var target, sample string
	c := &cobra.Command{
		Use:   "test --target NAME [--sample TYPE]",
		Short: "Send one sample event through a configured target for real and print the outcome",
		Long: `Send one sample event through a configured target for real, with the target's own
template, and print the outcome: the receiver's HTTP status or SMTP reply code, and its answer
(at most 1 KiB of the body, or the SMTP reply; credentials removed). Nothing is stored and
nothing is retried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := loadRuntime(configPath(cmd))
			if err != nil {
				return err
			}
			t, err := findTarget(rt, target)
			if err != nil {
				return err
			}
			body, err := samples.Get(sample)
			if err != nil {
				return err
			}
			ev, err := event.Parse(body)
			if err != nil {
				return err
			}
			ev.ReceivedAt = time.Now().UTC()
			msg := core.SampleMessage(ev, t, nil)
			msg.DeliveryID = "test-" + ev.ID
			return sendOnce(cmd, rt, t, msg, sample)
		},
	}
	c.Flags().StringVar(&target, "target", "", "target name (required)")
	c.Flags().StringVar(&sample, "sample", event.IssueCritical, "sample event type")
	_ = c.MarkFlagRequired("target")
	return c
}

// findTarget returns the run-time target called name.
func findTarget(rt *config.Runtime, name string) (*core.Target, error) {
	for _, t := range rt.Targets {
		if t.Name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("--target: no target named %q", name)
}

// sendOnce renders msg for t, sends it once through a fresh Notifier and prints the outcome; it
// fails when the message was not delivered.
func sendOnce(cmd *cobra.Command, rt *config.Runtime, t *core.Target, msg *notify.Message, what string) error {
	var ct *config.Target
	for i := range rt.Config.Targets {
		if rt.Config.Targets[i].Name == t.Name {
			ct = &rt.Config.Targets[i]
		}
	}
	if why := ct.Disabled(); why != "" {
		return fmt.Errorf("target %s is disabled: %s", t.Name, why)
	}
	// The recorder sees the receiver's answer, which a target keeps only when it fails.
	client := notify.NewHTTPClient()
	rec := &notify.AnswerRecorder{Next: client.Transport}
	client.Transport = rec
	n, err := config.NewNotifier(ct, config.BuildOptions{Version: version, Client: client})
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	if n == nil {
		return fmt.Errorf("target %s: delivery for type %s is not available in this version yet", t.Name, t.Type)
	}
	defer notify.Close(n)
	if err := rt.Renderer.Render(msg, t, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), rt.Config.Delivery.Timeout)
	defer cancel()
	start := time.Now()
	ans, err := notify.NotifyAnswer(ctx, n, rec, msg)
	took := time.Since(start).Round(time.Millisecond)
	out := cmd.OutOrStdout()
	if err == nil {
		outcome := "delivered"
		if ans.Status != 0 {
			outcome += fmt.Sprintf(" (status %d)", ans.Status)
		}
		fmt.Fprintf(out, "sent %s to %s (%s) in %s: %s\n", what, t.Name, t.Type, took, outcome)
		if ans.Status != 0 {
			scrubbed := notify.Scrub(errors.New(ans.Body), notify.SecretForms(ct.Credentials()...)).Error()
			fmt.Fprintf(out, "answer: %s\n", printable(scrubbed))
		}
		return nil
	}
	de := notify.AsDeliveryError(err)
	fmt.Fprintf(out, "sent %s to %s (%s) in %s: %s\n", what, t.Name, t.Type, took, de.Error())
	if de.Response != "" {
		fmt.Fprintf(out, "answer: %s\n", printable(de.Response))
	}
	if de.Retryable {
		fmt.Fprintln(out, "the bridge would retry this failure")
	} else {
		fmt.Fprintln(out, "the bridge would not retry this failure: the delivery would be dead")
	}
	return errors.New("the message was not delivered")
}

// printable is an answer's body for one line of output: "(empty)" for none, trailing space
// and invalid UTF-8 (a cut rune) removed.
func printable(body string) string {
	body = strings.TrimRight(strings.ToValidUTF8(body, ""), " \t\r\n")
	if body == "" {
		return "(empty)"
	}
	return body
}
