package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyrate/keyrate/cmd/internal/job"
)

const datasetUsage = `Usage: keyrate dataset ls DIR

  ls DIR    list what the dataset in DIR (an --out written with
            --partition day) holds: the inputs read into it, the dates
            it keeps partials for, the settings runs must agree with

See docs/warehouse.md.
`

func runDataset(ctx context.Context, inv *invocation, args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(inv.stdout, datasetUsage)
		return nil
	}
	if len(args) != 2 || args[0] != "ls" {
		return &exitError{code: exitUsage, err: errors.New("dataset: want 'keyrate dataset ls DIR'")}
	}
	return job.List(inv.stdout, args[1])
}
