package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func newRoute() *cobra.Command {
	var eventFile, sample string
	var explain bool
	c := &cobra.Command{
		Use:   "route (--event FILE | --sample TYPE) [--explain]",
		Short: "Dry run: which routes match an event, which targets get it, and the rendered messages",
		Long: `Dry run: which routes match an event, which targets get it (each once, from the first route
that names it; a disabled target is shown with what it would render) and the rendered messages,
each followed by the exact bytes the target would send ("sends N bytes (type), exactly:", then
the request body, email or audit line byte for byte, credentials redacted). Nothing is sent,
opened or stored.

--explain shows every route, matched or not, with its rule and, for && / || / not combinations,
the value of each operand in evaluation order and the operand that decided (expr short-circuits:
the operands after it show "not evaluated"); then the digests that collect the event.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := eventInput(eventFile, sample)
			if err != nil {
				return err
			}
			ev, err := event.Parse(body)
			if err != nil {
				return err
			}
			// Previews, so each target shows the exact bytes it would send; nothing can send.
			rt, err := buildRuntime(configPath(cmd), config.BuildOptions{Version: version, DryRun: true, Preview: true})
			if err != nil {
				return err
			}
			defer rt.Close()
			writeRoute(cmd.OutOrStdout(), dryrun.Run(rt, ev, dryrun.Options{}), explain)
			return nil
		},
	}
	c.Flags().StringVar(&eventFile, "event", "", "event JSON file")
	c.Flags().StringVar(&sample, "sample", "", "built-in sample event type (scan.started, …, issue.critical)")
	c.Flags().BoolVar(&explain, "explain", false, "show every route's rule and which part of it decided")
	return c
}

// eventInput reads --event FILE ("-" for stdin) or a built-in --sample.
func eventInput(file, sample string) ([]byte, error) {
	switch {
	case file != "" && sample != "":
		return nil, errors.New("use --event or --sample, not both")
	case sample != "":
		return samples.Get(sample)
	case file == "-":
		return io.ReadAll(os.Stdin)
	case file != "":
		return os.ReadFile(file)
	}
	return nil, fmt.Errorf("--event FILE or --sample TYPE is required (samples: %v)", samples.Types())
}

// writeRoute prints res: the matching routes (every route with its explanation when explain),
// with what each of their targets would be sent, then, when explain, the digests.
func writeRoute(out io.Writer, res *dryrun.Result, explain bool) {
	ev := res.Event
	fmt.Fprintf(out, "event %s (%s): %d of %d routes match\n", ev.ID, ev.Type, len(res.Matched), len(res.Routes))
	for _, r := range res.Routes {
		if explain {
			fmt.Fprintln(out)
			dryrun.WriteRouteVerdict(out, r.RouteVerdict, "")
		}
		if !r.Matched {
			continue
		}
		if !explain {
			fmt.Fprintf(out, "\nroute %s  (when: %s)\n", r.Route.Name, r.Route.When)
		}
		for _, l := range r.Route.Holding(time.Now()) {
			fmt.Fprintf(out, "  (%s)\n", l)
		}
		for _, t := range r.Targets {
			writeTarget(out, t)
		}
		if r.Route.Stop {
			fmt.Fprintln(out, "  (stop: later routes are not evaluated)")
		}
	}
	if explain {
		for _, d := range res.Digests {
			fmt.Fprintln(out)
			dryrun.WriteDigestVerdict(out, d, "")
		}
	}
}

// writeTarget prints what one target of a matching route would be sent.
func writeTarget(out io.Writer, t *dryrun.Target) {
	if t.Already {
		fmt.Fprintf(out, "  → %s: already sent by an earlier route (one delivery per target)\n", t.Name)
		return
	}
	if t.Target == nil {
		fmt.Fprintf(out, "  → %s: no target of that name\n", t.Name)
		return
	}
	status := ""
	if t.Target.Disabled != "" {
		status = " — skipped, target disabled: " + t.Target.Disabled + "; it would send:"
	}
	if t.Err != nil {
		fmt.Fprintf(out, "  → %s (%s)%s template error: %v\n", t.Name, t.Target.Type, status, t.Err)
		return
	}
	fmt.Fprintf(out, "  → %s (%s)%s\n", t.Name, t.Target.Type, status)
	dryrun.WriteMessage(out, t.Target, t.Message)
	dryrun.WriteSent(out, t)
}
