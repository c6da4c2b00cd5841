package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/store"
)

func newDigest() *cobra.Command {
	c := &cobra.Command{Use: "digest", Short: "Digests: send one now, or list the next run times"}
	var from, to string
	var dryRun bool
	run := &cobra.Command{
		Use:   "run NAME [--from T] [--to T] [--dry-run]",
		Short: "Send a digest now for a period (default: since its last scheduled run), or print it",
		Long: `Send a digest now, through its target, for the events it collected in a period: by default
from the end of its last scheduled run until now; --from and --to take RFC 3339 times or dates
(2006-01-02). This is a report on demand: it does not change the schedule, and scheduled runs still
cover their own periods. --dry-run prints the message instead of sending it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, spec, err := loadDigest(cmd, args[0])
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), rt.Config.Storage.Driver, rt.Config.Storage.DSN)
			if err != nil {
				return err
			}
			defer db.Close()
			now := time.Now().UTC()
			start, end := now.Add(-7*24*time.Hour), now
			if st, ok, err := db.DigestState(cmd.Context(), spec.Name); err != nil {
				return err
			} else if ok {
				start = st.LastEnd
			}
			if from != "" {
				if start, err = parseTime(from); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			if to != "" {
				if end, err = parseTime(to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			events, err := db.DigestWindow(cmd.Context(), spec.Name, start, end)
			if err != nil {
				return err
			}
			t, err := findTarget(rt, spec.Target)
			if err != nil {
				return err
			}
			digestRun := core.DigestRun{Digest: spec.Name, Template: spec.Template, From: start, To: end}
			ev, err := core.NewDigestEvent("digest_"+spec.Name+"_manual", digestRun, now)
			if err != nil {
				return err
			}
			msg := core.SampleMessage(ev, t, nil)
			msg.DeliveryID = "manual-" + spec.Name
			core.FillDigest(msg, digestRun, events, spec.Threshold)
			if dryRun {
				if err := rt.Renderer.Render(msg, t, nil); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "digest %s → %s (%s), %d events from %s to %s\n", spec.Name, t.Name, t.Type, len(events),
					start.Format(time.RFC3339), end.Format(time.RFC3339))
				dryrun.WriteMessage(out, t, msg)
				for _, a := range msg.Attachments {
					fmt.Fprintf(out, "    attachment: %s (%s, %d bytes)\n", a.Name, a.ContentType, len(a.Data))
				}
				return nil
			}
			return sendOnce(cmd, rt, t, msg, "digest "+spec.Name)
		},
	}
	run.Flags().StringVar(&from, "from", "", "start of the period (RFC 3339 or 2006-01-02)")
	run.Flags().StringVar(&to, "to", "", "end of the period (RFC 3339 or 2006-01-02; default now)")
	run.Flags().BoolVar(&dryRun, "dry-run", false, "print the digest instead of sending it")
	c.AddCommand(run, newDigestSchedule())
	return c
}

// maxScheduleCount bounds digest schedule --count: ten years of a daily digest.
const maxScheduleCount = 3660

func newDigestSchedule() *cobra.Command {
	var from string
	var count int
	c := &cobra.Command{
		Use:   "schedule NAME [--from RFC3339] [--count N]",
		Short: "Print a digest's next run times",
		Long: `Print the next N run times of a digest (default 10) after --from (an RFC 3339 time; default
now), one per line, RFC 3339 in the digest's timezone with its offset. Across daylight-saving
changes a schedule at fixed local times runs once on every local day: a time the clock skips runs
at the jump, a time it shows twice runs at the first one; sub-daily schedules run at the times
the clock shows (docs/configuration.md, digests). Reads the config only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			if from != "" {
				var err error
				if start, err = time.Parse(time.RFC3339, from); err != nil {
					return fmt.Errorf("--from: want an RFC 3339 time such as 2027-03-28T00:00:00+01:00, got %q", from)
				}
			}
			if count < 1 || count > maxScheduleCount {
				return fmt.Errorf("--count: want 1 to %d, got %d", maxScheduleCount, count)
			}
			_, spec, err := loadDigest(cmd, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for at, i := start, 0; i < count; i++ {
				if at = spec.Schedule.Next(at); at.IsZero() {
					return fmt.Errorf("digest %s: schedule %q names no time after %s", spec.Name, spec.Spec, start.Format(time.RFC3339))
				}
				fmt.Fprintln(out, at.In(spec.Location).Format(time.RFC3339))
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "list the runs after this RFC 3339 time (default now)")
	c.Flags().IntVar(&count, "count", 10, "how many run times to print")
	return c
}

// loadDigest loads the configuration --config names (as loadRuntime does) and its digest
// name; the error is the configuration's, or names the digests there are.
func loadDigest(cmd *cobra.Command, name string) (*config.Runtime, *core.DigestSpec, error) {
	path := configPath(cmd)
	rt, err := loadRuntime(path)
	if err != nil {
		return nil, nil, err
	}
	spec := rt.Router.Digest(name)
	if spec == nil {
		return nil, nil, fmt.Errorf("no digest named %q in %s%s", name, path, digestNames(rt.Router.Digests))
	}
	return rt, spec, nil
}

// digestNames is " (digests: a, b)" for errors, or " (no digests are defined)".
func digestNames(ds []*core.DigestSpec) string {
	if len(ds) == 0 {
		return " (no digests are defined)"
	}
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return " (digests: " + strings.Join(names, ", ") + ")"
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}
