package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/aggregate/policy"
)

// loadPolicy returns the policy analyze evaluates: the --policy file, or
// the one-plan policy the --limit flags stand for.
func (o *analyzeOptions) loadPolicy(limits []policy.Limit) (*policy.Policy, error) {
	if o.reportInterval < time.Millisecond || o.reportInterval%time.Millisecond != 0 {
		return nil, fmt.Errorf("--report-interval %s: want a positive whole number of milliseconds, as in 1m", o.reportInterval)
	}
	var pol *policy.Policy
	switch {
	case o.policy != "" && len(limits) > 0:
		return nil, fmt.Errorf("--policy and --limit: give one or the other (a --limit is a one-plan policy)")
	case o.policy != "":
		p, _, err := policy.Load(o.policy)
		if err != nil {
			return nil, fmt.Errorf("--policy:\n%w", err)
		}
		pol = p
	case len(limits) > 0:
		pol = policy.FromLimits(limits)
	default:
		pol = &policy.Policy{} // count keys only
	}
	pol.ReportMillis = o.reportInterval.Milliseconds()
	return pol, nil
}

// warnVerdictMissing says when --verdict-field names a field that keyed
// lines lack: those lines count as not rejected, which would otherwise
// silently report every throttle as leaked.
func warnVerdictMissing(d *diag, o *analyzeOptions, res *pipeline.Result) {
	if o.verdictField == "" {
		return
	}
	var missing, keyed int64
	for _, f := range res.Files {
		missing += f.VerdictMissing
		keyed += f.Parsed - f.Keyless
	}
	if missing > 0 {
		d.log.Warn(fmt.Sprintf("%d of %d keyed lines have no %q field (does --format %s log it?); they count as not rejected",
			missing, keyed, o.verdictField, o.format))
	}
}

const policyUsage = `Usage: keyrate policy check FILE

Validates a policy file (see docs/policy.md): every problem is reported
with its file and line. Exit status 0 when valid, 2 when not.
`

// runPolicy implements 'keyrate policy check FILE'.
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, policyUsage)
		return nil
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprint(stderr, policyUsage)
		return usageErrorf("policy: want 'keyrate policy check FILE'")
	}
	_, sum, err := policy.Load(args[1])
	if err != nil {
		var errs policy.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			return &exitError{code: exitUsage, err: fmt.Errorf("policy %s: %s", args[1], plural(len(errs), "problem"))}
		}
		return &exitError{code: exitUsage, err: err}
	}
	def := sum.DefaultPlan
	if def == "" {
		def = "none (unassigned keys are reported without a plan)"
	}
	fmt.Fprintf(stdout, "%s: ok: %d plans, %d limits, %d keys assigned, %d accounts, default plan %s\n",
		args[1], sum.Plans, sum.Limits, sum.KeysAssigned, sum.Accounts, def)
	return nil
}

// plural is "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
