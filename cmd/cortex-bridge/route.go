package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func newRoute() *cobra.Command {
	var eventFile, sample string
	var explain bool
	c := &cobra.Command{
		Use:   "route (--event FILE | --sample TYPE) [--explain]",
		Short: "Dry run: which routes match an event, which targets get it, and the rendered messages",
		Long: `Dry run: which routes match an event, which targets get it (each once, from the first route
that names it; a disabled target is shown with what it would send) and the rendered messages.
Nothing is sent and nothing is stored.

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
			rt, err := loadRuntime(configPath(cmd))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			matched := rt.Router.Match(ev)
			fmt.Fprintf(out, "event %s (%s): %d of %d routes match\n", ev.ID, ev.Type, len(matched), len(rt.Router.Routes))
			targets := map[string]*core.Target{}
			for _, t := range rt.Targets {
				targets[t.Name] = t
			}
			isMatched := map[*core.Route]bool{}
			for _, r := range matched {
				isMatched[r] = true
			}
			var verdicts map[*core.Route]rules.RouteVerdict
			if explain {
				verdicts = map[*core.Route]rules.RouteVerdict{}
				for _, v := range rules.ExplainRoutes(rt.Router, ev) {
					verdicts[v.Route] = v
				}
			}
			seen := map[string]bool{}
			for _, r := range rt.Router.Routes {
				if explain {
					fmt.Fprintln(out)
					writeRouteVerdict(out, verdicts[r], "")
				}
				if !isMatched[r] {
					continue
				}
				if !explain {
					fmt.Fprintf(out, "\nroute %s  (when: %s)\n", r.Name, r.When)
				}
				for _, l := range r.Holding(time.Now()) {
					fmt.Fprintf(out, "  (%s)\n", l)
				}
				for _, name := range r.Targets {
					t := targets[name]
					if seen[name] {
						fmt.Fprintf(out, "  → %s: already sent by an earlier route (one delivery per target)\n", name)
						continue
					}
					seen[name] = true
					status := ""
					if t.Disabled != "" {
						status = " — skipped, target disabled: " + t.Disabled + "; it would send:"
					}
					msg := core.SampleMessage(ev, t, r)
					if err := rt.Renderer.Render(msg, t, r); err != nil {
						fmt.Fprintf(out, "  → %s (%s)%s template error: %v\n", name, t.Type, status, err)
						continue
					}
					fmt.Fprintf(out, "  → %s (%s)%s\n", name, t.Type, status)
					printMessage(out, t, msg)
				}
				if r.Stop {
					fmt.Fprintln(out, "  (stop: later routes are not evaluated)")
				}
			}
			if explain {
				for _, d := range rt.Router.Digests {
					fmt.Fprintln(out)
					writeDigestVerdict(out, d, ev, "")
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&eventFile, "event", "", "event JSON file")
	c.Flags().StringVar(&sample, "sample", "", "built-in sample event type (scan.started, …, issue.critical)")
	c.Flags().BoolVar(&explain, "explain", false, "show every route's rule and which part of it decided")
	return c
}

// writeRouteVerdict prints "route NAME: matched" (or why not) and the rule's explanation tree.
func writeRouteVerdict(out io.Writer, v rules.RouteVerdict, indent string) {
	r := v.Route
	switch {
	case v.StoppedBy != "":
		fmt.Fprintf(out, "%sroute %s: not evaluated (route %s above matched and has stop: true)\n", indent, r.Name, v.StoppedBy)
		fmt.Fprintf(out, "%s  when: %s\n", indent, r.When)
		return
	case v.Explanation.Err != nil:
		fmt.Fprintf(out, "%sroute %s: not matched (the rule failed at run time)\n", indent, r.Name)
	case v.Matched && r.Stop:
		fmt.Fprintf(out, "%sroute %s: matched (stop: true, later routes are not evaluated)\n", indent, r.Name)
	case v.Matched:
		fmt.Fprintf(out, "%sroute %s: matched\n", indent, r.Name)
	default:
		fmt.Fprintf(out, "%sroute %s: not matched\n", indent, r.Name)
	}
	fmt.Fprint(out, v.Explanation.Text(indent+"  "))
}

// writeDigestVerdict prints whether digest d collects ev, with its rule's explanation.
func writeDigestVerdict(out io.Writer, d *core.DigestSpec, ev *event.Event, indent string) {
	if d.When == nil {
		fmt.Fprintf(out, "%sdigest %s: collects this event (no when: rule, it collects every event)\n", indent, d.Name)
		return
	}
	e := rules.ExplainMatcher(d.When, ev)
	switch {
	case e.Err != nil:
		fmt.Fprintf(out, "%sdigest %s: does not collect this event (the rule failed at run time)\n", indent, d.Name)
	case e.Matched:
		fmt.Fprintf(out, "%sdigest %s: collects this event\n", indent, d.Name)
	default:
		fmt.Fprintf(out, "%sdigest %s: does not collect this event\n", indent, d.Name)
	}
	fmt.Fprint(out, e.Text(indent+"  "))
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

func printMessage(out io.Writer, t *core.Target, msg *notify.Message) {
	if msg.Subject != "" {
		fmt.Fprintf(out, "    subject: %s\n", msg.Subject)
	}
	body := msg.Body
	switch {
	case body == nil && t.Format == notify.FormatNone:
		fmt.Fprintln(out, "    (audit record of the original event)")
		return
	case body == nil:
		body = msg.Event.Raw
		fmt.Fprintln(out, "    body: the original event, unchanged")
	}
	var pretty bytes.Buffer
	if t.Format == notify.FormatJSON && json.Indent(&pretty, body, "    ", "  ") == nil {
		fmt.Fprintf(out, "    %s\n", pretty.Bytes())
	} else {
		for _, l := range bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n")) {
			fmt.Fprintf(out, "    %s\n", l)
		}
	}
	if msg.HTML != "" {
		fmt.Fprintf(out, "    html: %d bytes\n", len(msg.HTML))
	}
}
