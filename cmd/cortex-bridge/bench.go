package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/bench"
)

func newBench() *cobra.Command {
	var (
		o                               bench.Options
		jsonOut, inProcess, quiet       bool
		bridgeLogLevel, cpuProfile, dir string
		memProfile, dbProcess           string
		hostile                         bool
		ho                              bench.HostileOptions
		hostileCases                    []string
		killRSSMB                       int64
	)
	c := &cobra.Command{
		Use:   "bench [--rate R --duration D | --find-max | --hostile] [--baseline] [--url U] [--json]",
		Short: "Load-test a bridge: open-loop signed events in, deliveries measured at a loopback receiver",
		Long: `Load-test a bridge. An open-loop generator (constant arrival rate: a slow bridge shows as
latency, not as a lower rate) posts signed events with unique ids, re-stamped, taken in turn from
--events, to the bridge. A loopback receiver, the target of the bridge's webhook, verifies each
delivery's signature and measures the time from the POST being sent to the delivery arriving.

By default the bridge is started as a child process (this binary, "serve") on a generated
config: one webhook target at the receiver, one file target, SQLite in a temporary folder
(--storage postgres --dsn … for Postgres). Its CPU time and RSS are read from /proc.
With --url the bench posts to a running bridge instead; give it a webhook target at
http://<--receiver-listen>/ with secret --receiver-secret to measure deliveries, and --pid to
measure its CPU and RSS.

Reports ingest (accepted events/s, ack latency p50/p90/p99/max, errors by status), end to end
(p50/p90/p99/max, and events never delivered within --drain: lost), bridge CPU per 1000 events
and peak RSS. --find-max steps the rate up until ack p99 exceeds --max-p99, errors appear or
deliveries fall behind, and reports the last good rate. --baseline first runs the same load
against an in-process server that only verifies the HMAC and parses the event, the machine's
ceiling, and reports bridge/baseline. Exit status 1 when a fixed-rate run lost an event.

--hostile sends hostile input instead (issue 16): for each case, a fresh child bridge on the
shipped config (on loopback, SQLite in a temporary folder) gets the largest body of one class
that fits ingest.max_body_bytes (deep nesting, many or duplicate keys, huge strings and arrays
under a quadratic rule, invalid UTF-8, gzip, bodies over the limit, 300 slow connections),
signed and with a bad signature, or one of the dashboard's forms or the management API's JSON
bodies as a signed-in account. It reports per case the answers, the bridge's CPU ms per request
(utime+stime from /proc/<pid>/stat, from the first request until the bridge is idle again),
its extra RSS (peak VmRSS/VmHWM over the RSS before the case) and whether it still answers
/healthz, judged against <= 50 ms and <= 32 MB. Exit status 1 when a case failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if o.Warmup == 0 {
				o.Warmup = -1 // --warmup 0: none
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			o.Dir = dir
			if o.Storage == "postgres" && dbProcess == "" {
				dbProcess = "postgres"
			}
			o.DBProcess = dbProcess
			if o.URL == "" {
				if inProcess {
					logw := io.Discard
					if dir != "" {
						f, err := os.Create(dir + "/bridge.log")
						if err == nil {
							defer f.Close()
							logw = f
						}
					}
					var level slog.Level
					if err := level.UnmarshalText([]byte(bridgeLogLevel)); err != nil {
						return fmt.Errorf("--bridge-log-level: %w", err)
					}
					log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: level}))
					o.Launch = bench.InProcess(func(ctx context.Context, cfgPath string, ready func(string)) error {
						return serve(ctx, cfgPath, log, ready)
					})
					o.LaunchName = "in-process bridge"
				} else {
					exe, err := os.Executable()
					if err != nil {
						return fmt.Errorf("cannot find this binary to run the bridge: %w", err)
					}
					if dir == "" {
						tmp, err := os.MkdirTemp("", "cortex-bridge-bench-")
						if err != nil {
							return err
						}
						defer os.RemoveAll(tmp)
						o.Dir = tmp
					}
					o.Launch = bench.Child(exe, "serve", "--log-level", bridgeLogLevel)
					o.LaunchName = "child bridge"
				}
			}
			if !quiet {
				o.Progress = cmd.ErrOrStderr()
			}
			if hostile {
				return runHostile(cmd, ho, o, hostileCases, killRSSMB, jsonOut)
			}
			rep, err := bench.Run(ctx, o)
			if rep != nil {
				if werr := writeReport(cmd.OutOrStdout(), rep, jsonOut); werr != nil {
					return werr
				}
			}
			if memProfile != "" {
				if f, ferr := os.Create(memProfile); ferr == nil {
					_ = pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
			}
			if err != nil {
				if errors.Is(err, bench.ErrPostgresPending) {
					return err
				}
				return fmt.Errorf("bench: %w", err)
			}
			if !o.FindMax && (rep.Lost > 0 || rep.LostFile > 0) {
				return fmt.Errorf("bench: %d events lost at the receiver, %d missing from the audit file", rep.Lost, rep.LostFile)
			}
			return nil
		},
	}
	f := c.Flags()
	f.Float64Var(&o.Rate, "rate", 1000, "events per second (fixed-rate mode)")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "how long the rate is held")
	f.DurationVar(&o.Warmup, "warmup", 2*time.Second, "warm-up at the same rate before measuring, reported apart (negative: none)")
	f.BoolVar(&o.FindMax, "find-max", false, "step the rate up until ack p99 > --max-p99, errors, or deliveries falling behind; report the last good rate")
	f.Float64Var(&o.StartRate, "start-rate", 250, "find-max: first rate")
	f.Float64Var(&o.StepFactor, "step-factor", 2, "find-max: rate multiplier between steps")
	f.DurationVar(&o.StepDuration, "step-duration", 10*time.Second, "find-max: length of each step")
	f.DurationVar(&o.MaxP99, "max-p99", 50*time.Millisecond, "find-max: highest acceptable ack p99")
	f.Float64Var(&o.MaxRate, "max-rate", 20000, "find-max: highest rate tried")
	f.IntVar(&o.Refine, "refine", 3, "find-max: bisection steps between the last good and the first failed rate")
	f.BoolVar(&o.Baseline, "baseline", false, "also run the same load against an in-process HMAC+parse+200 server and report bridge/baseline")
	f.DurationVar(&o.Drain, "drain", 30*time.Second, "wait this long after a step for deliveries; accepted events not delivered by then are lost")
	f.StringVar(&o.URL, "url", "", "post to a running bridge's ingest URL instead of starting one")
	f.IntVar(&o.PID, "pid", 0, "with --url: the bridge's process id, to read its CPU and RSS from /proc")
	f.StringVar(&o.Secret, "secret", "bench-ingest-secret", "ingest secret (with --url: the bridge's ingest.secrets entry)")
	f.StringVar(&o.ReceiverListen, "receiver-listen", "127.0.0.1:0", `receiver address; with --url the bridge's webhook target must point at it ("off": ingest only)`)
	f.StringVar(&o.ReceiverSecret, "receiver-secret", "bench-receiver-secret", "the webhook target's signing secret the receiver verifies")
	f.BoolVar(&o.NoAudit, "no-audit", false, "leave the file target out of the generated config (the webhook target only)")
	f.StringVar(&o.AuditPath, "audit-file", "", "with --url: the bridge's file target path, checked for loss")
	f.StringVar(&o.Storage, "storage", "sqlite", "storage.driver of the generated config: sqlite or postgres")
	f.IntVar(&o.Replicas, "replicas", 1, "with --storage postgres: start this many bridges on the one database and post to them in turn (CPU summed, peak RSS of the highest)")
	f.StringVar(&o.DSN, "dsn", "", "storage.dsn of the generated config (default: a SQLite file in the run folder; required for postgres)")
	f.StringVar(&o.EventsFile, "events", "", "recorded traffic, .jsonl or one event (default: samples/stream.jsonl when present, else the embedded samples)")
	f.StringVar(&dir, "dir", "", "keep the generated config, database, audit file and bridge log here (default: a temporary folder, removed)")
	f.StringVar(&bridgeLogLevel, "bridge-log-level", "info", "the started bridge's --log-level (its log goes to bridge.log in the run folder)")
	f.BoolVar(&inProcess, "in-process", false, "run the bridge inside this process (for profiling; CPU and RSS then include the generator)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write this process's CPU profile here (with --in-process it covers the bridge)")
	f.StringVar(&memProfile, "memprofile", "", "write this process's allocation profile here at the end")
	f.StringVar(&dbProcess, "db-process", "", `command name of the database server's processes whose CPU is reported apart (default "postgres" with --storage postgres)`)
	f.DurationVar(&o.RSSInterval, "rss-interval", time.Second, "how often the bridge's RSS is sampled")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	f.BoolVar(&hostile, "hostile", false, "send hostile input (a fresh child bridge per case) and judge each case against <= 50 ms CPU and <= 32 MB extra RSS")
	f.IntVar(&ho.MaxBodyBytes, "max-body-bytes", 1<<20, "hostile: ingest.max_body_bytes of the generated config; the bodies fill it")
	f.StringSliceVar(&hostileCases, "cases", nil, "hostile: run only the cases whose name, via or auth contains one of these (comma-separated)")
	f.DurationVar(&ho.CaseTimeout, "case-timeout", time.Minute, "hostile: a bridge still busy this long after a case's first request is killed and fails the case")
	f.DurationVar(&ho.StopAfterCPU, "stop-after-cpu", 2*time.Second, "hostile: stop sending a case's requests once the bridge used this much CPU in it")
	f.DurationVar(&ho.KillCPU, "kill-cpu", 30*time.Second, "hostile: kill the bridge once a case used this much of its CPU")
	f.Int64Var(&killRSSMB, "kill-rss-mb", 1024, "hostile: kill the bridge once a case grew its RSS by this many MiB (protects a shared machine)")
	c.MarkFlagsMutuallyExclusive("hostile", "find-max")
	c.MarkFlagsMutuallyExclusive("hostile", "url")
	c.MarkFlagsMutuallyExclusive("hostile", "in-process")
	c.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if o.EventsFile == "" {
			if _, err := os.Stat("samples/stream.jsonl"); err == nil {
				o.EventsFile = "samples/stream.jsonl"
			}
		}
		return nil
	}
	return c
}

// runHostile runs `bench --hostile` with a child bridge per case and prints the report.
func runHostile(cmd *cobra.Command, ho bench.HostileOptions, o bench.Options, cases []string, killRSSMB int64, jsonOut bool) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this binary to run the bridge: %w", err)
	}
	ho.Launch = bench.Child(exe, "serve", "--log-level", "warn")
	ho.LaunchName = "child bridge (" + exe + " serve)"
	ho.Dir, ho.Secret, ho.Cases, ho.Progress = o.Dir, o.Secret, cases, o.Progress
	ho.KillRSS = killRSSMB << 20
	rep, err := bench.Hostile(cmd.Context(), ho)
	if rep != nil {
		if werr := writeReport(cmd.OutOrStdout(), rep, jsonOut); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("bench --hostile: %w", err)
	}
	if rep.Failed > 0 {
		return fmt.Errorf("bench --hostile: %d of %d cases failed the target", rep.Failed, rep.Failed+rep.Passed)
	}
	return nil
}

// writeReport prints a bench report as JSON (jsonOut) or as text. Only a JSON write error is
// returned: the text goes to a terminal, where a failed write has no one to tell.
func writeReport(out io.Writer, rep interface {
	WriteJSON(io.Writer) error
	WriteText(io.Writer) error
}, jsonOut bool) error {
	if jsonOut {
		return rep.WriteJSON(out)
	}
	_ = rep.WriteText(out)
	return nil
}
