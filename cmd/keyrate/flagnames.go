package main

import (
	"errors"
	"fmt"

	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/parse/parquetlog"
)

// valueFlags names the flag that gives each kind of setting parse
// reports as a parse.ValueError.
var valueFlags = map[parse.ValueKind]string{
	parse.ValueFormat:     "--format",
	parse.ValueLayout:     "--log-format",
	parse.ValueFieldMap:   "--field",
	parse.ValueKeyPattern: "--key-pattern",
	parse.ValueTime:       "--time",
}

// flagError returns err, as parse returned it for a setting, in the
// command line's words: parse names the value it rejects (log format
// "x": ...), this the flag that gave it (--log-format "x": ...). Other
// errors come back as they are.
func flagError(err error) error {
	var ve *parse.ValueError
	if errors.As(err, &ve) {
		if flag, ok := valueFlags[ve.Kind]; ok {
			return fmt.Errorf("%s %q: %w", flag, ve.Value, ve.Err)
		}
	}
	return err
}

// inputAdvice adds to err, when an input could not be read as it is, the
// flags or commands that would read it.
func inputAdvice(err error) error { return windowAdvice(detectAdvice(err)) }

// detectAdvice adds to err, when it is the failure to detect an input's
// format or its columns, the flags that would name them.
func detectAdvice(err error) error {
	var ue *parse.UndetectedError
	var unmapped *parquetlog.UnmappedError
	switch {
	case errors.As(err, &unmapped):
		return fmt.Errorf("%w; map them with --field, e.g. --field time=ts", err)
	case !errors.As(err, &ue):
		return err
	case ue.FirstLine == "":
		return fmt.Errorf("%w (use --format)", err)
	}
	return fmt.Errorf("%w (use --format or --log-format)", err)
}

// windowAdvice adds to err, when an input's zstd window is over what the
// run decodes, how to read it.
func windowAdvice(err error) error {
	var we *input.WindowError
	switch {
	case !errors.As(err, &we):
		return err
	case we.Window > input.MaxZstdWindow:
		return fmt.Errorf("%w (zstd -d cannot decode it either; recompress it with a smaller window)", err)
	}
	return fmt.Errorf("%w (give --memory %s or more, or --memory 0, to read it, or recompress it with a smaller window: zstd -dc --long=31 %s | zstd -o NEW.zst)",
		err, (*byteSize)(new(int64(we.Window))).String(), input.QuotePath(we.File))
}
