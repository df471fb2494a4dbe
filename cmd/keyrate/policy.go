package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyrate/keyrate/aggregate/policy"
)

const policyUsage = `Usage: keyrate policy check FILE

Validates a policy file (see docs/policy.md): every problem is reported
with its file and line. Exit status 0 when valid, 2 when not.
`

// runPolicy implements 'keyrate policy check FILE'.
func runPolicy(ctx context.Context, inv *invocation, args []string) error {
	stdout, stderr := inv.stdout, inv.stderr
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
