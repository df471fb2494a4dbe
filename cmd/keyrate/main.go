// Command keyrate audits API keys' request rates from HTTPS access logs.
// main only wires the process to run; everything testable lives behind
// run(ctx, args, stdin, stdout, stderr).
package main

import (
	"os"
)

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
