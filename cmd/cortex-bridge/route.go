package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func newRoute() *cobra.Command {
	var eventFile, sample string
	c := &cobra.Command{
		Use:   "route (--event FILE | --sample TYPE)",
		Short: "Dry run: which routes match an event, which targets get it, and the rendered messages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := eventInput(eventFile, sample)
			if err != nil {
				return err
			}
			ev, err := core.ParseEvent(body)
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
			seen := map[string]bool{}
			for _, r := range matched {
				fmt.Fprintf(out, "\nroute %s  (when: %s)\n", r.Name, r.When)
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
			return nil
		},
	}
	c.Flags().StringVar(&eventFile, "event", "", "event JSON file")
	c.Flags().StringVar(&sample, "sample", "", "built-in sample event type (scan.started, …, issue.critical)")
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

func printMessage(out io.Writer, t *core.Target, msg *core.Message) {
	if msg.Subject != "" {
		fmt.Fprintf(out, "    subject: %s\n", msg.Subject)
	}
	body := msg.Body
	switch {
	case body == nil && t.Format == core.FormatNone:
		fmt.Fprintln(out, "    (audit record of the original event)")
		return
	case body == nil:
		body = msg.Event.Raw
		fmt.Fprintln(out, "    body: the original event, unchanged")
	}
	var pretty bytes.Buffer
	if t.Format == core.FormatJSON && json.Indent(&pretty, body, "    ", "  ") == nil {
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
