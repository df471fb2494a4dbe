// Command keyrate audits API keys' request rates from HTTPS access logs.
// main only wires the process to run; everything testable lives behind
// run(ctx, args, stdin, stdout, stderr).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
