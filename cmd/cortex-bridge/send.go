package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
)

func newSend() *cobra.Command {
	var (
		url, secret, file, sample string
		perSecond                 float64
		keepTimestamps, fresh     bool
		quiet                     bool
	)
	c := &cobra.Command{
		Use:   "send [--url URL --secret S] (--sample TYPE | --file F.json | --file F.jsonl) [--fresh]",
		Short: "Sign and POST events like Cortex does, and print each answer and a summary",
		Long: `Sign and POST events like Cortex does. Each event's timestamp is set to now unless
--keep-timestamps is given (recorded samples would otherwise be rejected as stale). The bridge
answers "duplicate" to an event id it has seen: --fresh gives each event a new random id
(evt_ and 20 hex digits) so a sample can be sent again as a new event.
429 answers are retried after their Retry-After and 503 or network errors with backoff, so no
event of a file is dropped. --url and --secret default to the config's listen address, ingest
path and first secret.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			events, err := readEvents(file, sample)
			if err != nil {
				return err
			}
			if url == "" || secret == "" {
				cfg, err := config.Load(configPath(cmd))
				if err != nil {
					return fmt.Errorf("--url and --secret not given, and the config cannot supply them: %w", err)
				}
				if url == "" {
					scheme := "http"
					if cfg.Server.TLS.CertFile != "" {
						scheme = "https"
					}
					url = scheme + "://" + cfg.Server.Listen + cfg.Ingest.Path
				}
				if secret == "" {
					secret = cfg.Ingest.Secrets[0].Reveal()
				}
			}
			client := &sender.Client{URL: url, Secret: secret}
			limiter := rate.NewLimiter(rate.Inf, 1)
			if perSecond > 0 {
				limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
			}
			out := cmd.OutOrStdout()
			var sum summary
			for _, body := range events {
				if err := limiter.Wait(cmd.Context()); err != nil {
					return err
				}
				switch {
				case fresh:
					body, err = sender.Reissue(body, sender.NewEventID(), time.Now())
				case !keepTimestamps:
					body, err = sender.Restamp(body, time.Now())
				}
				if err != nil {
					return err
				}
				res, err := client.Send(cmd.Context(), body)
				sum.add(res, err)
				if !quiet {
					fmt.Fprintln(out, describe(res, err))
				}
			}
			fmt.Fprintln(out, sum.String())
			if sum.rejected+sum.failed > 0 {
				return fmt.Errorf("%d of %d events were not accepted", sum.rejected+sum.failed, sum.sent)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&url, "url", "", "ingest URL (default: from the config)")
	f.StringVar(&secret, "secret", "", "signing secret (default: the config's first ingest secret)")
	f.StringVar(&file, "file", "", "a JSON event file, or JSON Lines with one event per line")
	f.StringVar(&sample, "sample", "", "a built-in sample event type: "+strings.Join(samples.Types(), ", "))
	f.Float64Var(&perSecond, "rate", 0, "events per second (default: as fast as answered)")
	f.BoolVar(&keepTimestamps, "keep-timestamps", false, "send timestamps unchanged (byte-exact bodies)")
	f.BoolVar(&fresh, "fresh", false, "send each event as a new one: a new random id and the timestamp now (not a duplicate of an earlier send)")
	f.BoolVar(&quiet, "quiet", false, "print only the summary")
	c.MarkFlagsMutuallyExclusive("fresh", "keep-timestamps")
	return c
}

// readEvents returns the raw bytes of each JSON value in file (one pretty-printed event or JSON
// Lines), or the sample's body.
func readEvents(file, sample string) ([][]byte, error) {
	switch {
	case file != "" && sample != "":
		return nil, errors.New("use --file or --sample, not both")
	case sample != "":
		b, err := samples.Get(sample)
		return [][]byte{b}, err
	case file == "":
		return nil, errors.New("--file or --sample is required")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var out [][]byte
	for {
		var raw json.RawMessage
		start := dec.InputOffset()
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			// Name the line the bad value starts on (after the whitespace before it).
			at := int(start) + len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n"))
			return nil, fmt.Errorf("%s:%d: event %d is not JSON: %w", file, 1+bytes.Count(data[:at], []byte("\n")), len(out)+1, err)
		}
		out = append(out, raw)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no events", file)
	}
	return out, nil
}

func describe(r sender.Result, err error) string {
	head := fmt.Sprintf("%s %s → ", r.EventID, r.Event)
	switch {
	case err != nil && r.StatusCode == 0:
		return head + "no answer: " + err.Error()
	case r.StatusCode == 200 && r.Status == "accepted":
		what := fmt.Sprintf("%d %s", r.Deliveries, plural(r.Deliveries, "delivery", "deliveries"))
		if r.Held > 0 {
			what += fmt.Sprintf(", %d held for a group, throttle or quiet hours", r.Held)
		}
		return head + "200 accepted (" + what + ")"
	case r.StatusCode == 200:
		return head + "200 " + r.Status
	}
	return head + fmt.Sprintf("%d %s: %s", r.StatusCode, r.Code, r.Message)
}

type summary struct {
	sent, accepted, duplicate, rejected, failed int
	byCode                                      map[string]int
}

func (s *summary) add(r sender.Result, err error) {
	s.sent++
	switch {
	case err != nil && r.StatusCode == 0:
		s.failed++
	case r.StatusCode == 200 && r.Status == "duplicate":
		s.duplicate++
	case r.StatusCode == 200:
		s.accepted++
	default:
		s.rejected++
		if s.byCode == nil {
			s.byCode = map[string]int{}
		}
		code := r.Code
		if code == "" {
			code = fmt.Sprintf("http_%d", r.StatusCode)
		}
		s.byCode[code]++
	}
}

func (s *summary) String() string {
	out := fmt.Sprintf("sent %d: %d accepted, %d duplicate, %d rejected, %d failed", s.sent, s.accepted, s.duplicate, s.rejected, s.failed)
	var codes []string
	for c, n := range s.byCode {
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	if len(codes) > 0 {
		out += " (" + strings.Join(codes, ", ") + ")"
	}
	return out
}
