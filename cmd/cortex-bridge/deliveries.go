package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
)

func newDeliveries() *cobra.Command {
	c := &cobra.Command{Use: "deliveries", Short: "Inspect the delivery log and replay deliveries (dead letters)"}
	var status, target, event string
	var limit int
	var attempts bool
	list := &cobra.Command{
		Use:   "list [--status dead|failed|pending|running|succeeded|cancelled|silenced] [--target NAME] [--event TYPE] [--limit N] [--attempts]",
		Short: "List deliveries, newest first (of every target, YAML or registered)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := openStore(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			f := core.DeliveryFilter{Target: target, EventType: event, Limit: limit}
			if !f.SetStatus(status) {
				return fmt.Errorf("--status: want dead, failed, pending, running, succeeded, cancelled or silenced, got %q", status)
			}
			page, err := db.DeliveryPage(cmd.Context(), f)
			if err != nil {
				return err
			}
			var byID map[string][]core.Attempt
			if attempts {
				ids := make([]string, len(page.Deliveries))
				for i, d := range page.Deliveries {
					ids[i] = d.ID
				}
				if byID, err = db.AttemptsOf(cmd.Context(), ids); err != nil {
					return err
				}
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DELIVERY\tTARGET\tEVENT\tEVENT ID\tSTATUS\tATTEMPTS\tCREATED\tLAST ERROR")
			for _, d := range page.Deliveries {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Target, d.EventType, d.EventID, d.Status(), d.Attempts,
					d.CreatedAt.Format(time.RFC3339), d.LastError)
				for _, a := range byID[d.ID] {
					fmt.Fprintf(w, "\t  attempt %d\t%s\t%d\t%s\t%dms\t%s\t%s\n", a.Number, a.Outcome, a.StatusCode,
						a.StartedAt.Format(time.RFC3339), a.Duration.Milliseconds(), a.Error, a.Response)
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "(more: raise --limit)\n")
			}
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "dead, failed (waiting to retry), pending, running, succeeded, cancelled or silenced (kept back by a silence)")
	list.Flags().StringVar(&target, "target", "", "only this target (a YAML target name or a registered webhook id)")
	list.Flags().StringVar(&event, "event", "", "only this event type")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	list.Flags().BoolVar(&attempts, "attempts", false, "show each delivery's attempts")

	var allDead bool
	retry := &cobra.Command{
		Use:   "retry (ID... | --all-dead [--target NAME])",
		Short: "Queue deliveries again now, with a fresh budget of attempts (same delivery ids)",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0 && !allDead:
				return errors.New("give delivery ids, or --all-dead (see cortex-bridge deliveries list --status dead)")
			case len(args) > 0 && allDead:
				return errors.New("give delivery ids or --all-dead, not both")
			}
			db, err := openStore(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			if allDead {
				f := core.DeliveryFilter{State: core.StateDead, Target: target}
				for {
					page, err := db.DeliveryPage(cmd.Context(), f)
					if err != nil {
						return err
					}
					for _, d := range page.Deliveries {
						args = append(args, d.ID)
					}
					if f.Cursor = page.NextCursor; f.Cursor == "" {
						break
					}
				}
			}
			now := time.Now()
			failed := 0
			for _, id := range args {
				if err := db.RetryDelivery(cmd.Context(), id, now); err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %v\n", id, err)
					failed++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: queued\n", id)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d queued, %d not\n", len(args)-failed, failed)
			if failed > 0 {
				return fmt.Errorf("%d deliveries could not be queued", failed)
			}
			return nil
		},
	}
	retry.Flags().BoolVar(&allDead, "all-dead", false, "every dead delivery")
	retry.Flags().StringVar(&target, "target", "", "with --all-dead: only this target's")
	c.AddCommand(list, retry)
	return c
}

// openStore opens the config's storage (it works while serve runs: SQLite in WAL mode and
// Postgres both allow it).
func openStore(cmd *cobra.Command) (*store.DB, error) {
	cfg, err := config.Load(configPath(cmd))
	if err != nil {
		return nil, fmt.Errorf("%s is invalid:\n%w", configPath(cmd), err)
	}
	return store.Open(cmd.Context(), cfg.Storage.Driver, cfg.Storage.DSN)
}
