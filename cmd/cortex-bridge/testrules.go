package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/ruletest"
)

func newTestRules() *cobra.Command {
	var format, runPattern string
	c := &cobra.Command{
		Use:   "test-rules [FILE...] [--run REGEXP] [--format text|json]",
		Short: "Check that events are routed as expected (rule tests for CI)",
		Long: `Run the rule test cases of each FILE (default rules_test.yaml): for each case, build its event,
route it with the config's rules and compare the matching routes, the targets that get a delivery,
the digests that collect it and, optionally, snippets of the rendered messages with what the case
expects. Nothing is sent and nothing is stored.

Prints one line per case (ok or FAIL); a failing case shows what it expected and what it got, with
- for expected but missing and + for present but not expected, and the explanation of the rules
involved (as route --explain prints it). Exit status 1 when a case fails or a FILE is invalid.

The config is --config when given, else the file's config: key (relative to the file), else
$CORTEX_BRIDGE_CONFIG, else ./config.yaml. See README.md#testing-rules for the file format.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format: want text or json, got %q", format)
			}
			var filter *regexp.Regexp
			if runPattern != "" {
				var err error
				if filter, err = regexp.Compile(runPattern); err != nil {
					return fmt.Errorf("--run: %w", err)
				}
			}
			defaulted := len(args) == 0
			if defaulted {
				args = []string{"rules_test.yaml"}
			}
			flagConfig, _ := cmd.Flags().GetString("config")
			runtimes := map[string]*config.Runtime{}
			var results []*ruletest.Result
			for _, path := range args {
				suite, err := ruletest.Load(path)
				if defaulted && errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%w (give the test file: %s FILE)", err, cmd.CommandPath())
				}
				if err != nil {
					return err
				}
				cfgPath := suite.ConfigPath(flagConfig)
				rt := runtimes[cfgPath]
				if rt == nil {
					if rt, err = loadRuntime(cfgPath); err != nil {
						return fmt.Errorf("%s: config: %w", path, err)
					}
					runtimes[cfgPath] = rt
				}
				for _, tc := range suite.Cases {
					if filter != nil && !filter.MatchString(tc.Name) {
						continue
					}
					res := tc.Run(rt)
					res.Config = cfgPath
					results = append(results, res)
				}
			}
			if filter != nil && len(results) == 0 {
				return fmt.Errorf("--run %q matches no case", runPattern)
			}
			out := cmd.OutOrStdout()
			var err error
			if format == "json" {
				err = writeRuleTestsJSON(out, results)
			} else {
				writeRuleTestsText(out, results)
			}
			if err != nil {
				return err
			}
			for _, r := range results {
				if !r.OK {
					return errSilent
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	c.Flags().StringVar(&runPattern, "run", "", "run only the cases whose name matches this regular expression")
	return c
}

// writeRuleTestsText prints one line per case, a diff under each failing one, and a summary.
func writeRuleTestsText(out io.Writer, results []*ruletest.Result) {
	failed := 0
	file := ""
	for _, r := range results {
		if r.File != file {
			file = r.File
			fmt.Fprintf(out, "%s (config %s)\n", r.File, r.Config)
		}
		if r.OK {
			fmt.Fprintf(out, "ok    %s\n", r.Name)
		} else {
			failed++
			fmt.Fprintf(out, "FAIL  %s  (%s:%d)\n", r.Name, r.File, r.Line)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(out, "        warning: %s\n", w)
		}
		if r.OK {
			continue
		}
		for _, d := range r.Diffs {
			writeDiff(out, d)
		}
		if r.Why != "" {
			fmt.Fprintln(out, "        why:")
			writeIndented(out, r.Why, "          ", 0)
		}
	}
	if failed == 0 {
		fmt.Fprintf(out, "PASS: %d %s\n", len(results), plural(len(results), "case", "cases"))
		return
	}
	fmt.Fprintf(out, "FAIL: %d of %d cases failed (- expected but missing, + present but not expected)\n", failed, len(results))
}

func writeDiff(out io.Writer, d ruletest.Diff) {
	const pad = "        "
	if d.Note != "" {
		fmt.Fprintf(out, "%s%s: %s\n", pad, d.Key, d.Note)
	} else {
		fmt.Fprintf(out, "%s%s:\n", pad, d.Key)
	}
	if d.Want != nil {
		fmt.Fprintf(out, "%s  want %s\n", pad, brackets(*d.Want))
		fmt.Fprintf(out, "%s  got  %s\n", pad, brackets(*d.Got))
		for _, m := range d.Missing {
			fmt.Fprintf(out, "%s  - %s\n", pad, m)
		}
		for _, u := range d.Unexpected {
			fmt.Fprintf(out, "%s  + %s\n", pad, u)
		}
		return
	}
	for _, m := range d.Missing {
		fmt.Fprintf(out, "%s  - contains %q\n", pad, m)
	}
	for _, u := range d.Unexpected {
		fmt.Fprintf(out, "%s  + not_contains %q\n", pad, u)
	}
	if d.Message != "" {
		fmt.Fprintf(out, "%s  message:\n", pad)
		writeIndented(out, d.Message, pad+"    ", 30)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func brackets(names []string) string { return "[" + strings.Join(names, " ") + "]" }

// writeIndented prints text with prefix on every line, at most max lines (0: all).
func writeIndented(out io.Writer, text, prefix string, max int) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if max > 0 && i == max {
			fmt.Fprintf(out, "%s… (%d more lines)\n", prefix, len(lines)-max)
			return
		}
		fmt.Fprintf(out, "%s%s\n", prefix, l)
	}
}

func writeRuleTestsJSON(out io.Writer, results []*ruletest.Result) error {
	report := struct {
		Passed int                `json:"passed"`
		Failed int                `json:"failed"`
		Cases  []*ruletest.Result `json:"cases"`
	}{Cases: results}
	for _, r := range results {
		if r.OK {
			report.Passed++
		} else {
			report.Failed++
		}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}
