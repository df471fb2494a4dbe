package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/cmd/internal/analysis"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/parse/parquetlog"
)

// inputAdvice adds to err, when an input could not be read as it is, the
// flags or commands that would read it, or leave it out.
func inputAdvice(err error) error { return windowAdvice(detectAdvice(err)) }

// detectAdvice adds to err, when it is the failure to detect an input's
// format or its columns, or an input that is a tar archive, the flags
// that would name them or leave the file out: in a directory of logs, an
// nginx error.log or a README is not a log to read.
func detectAdvice(err error) error {
	var ue *parse.UndetectedError
	var unmapped *parquetlog.UnmappedError
	var ie *pipeline.InputError
	exclude := "" // how to leave the file out, when it is one
	if errors.As(err, &ie) && !ie.Stdin {
		exclude = "leave it out with --exclude " + shellQuote(filepath.Base(ie.Path))
	}
	formats := "--format or --log-format"
	switch {
	case errors.As(err, &unmapped):
		return fmt.Errorf("%w; map them with --field, e.g. --field time=ts", err)
	case errors.Is(err, parse.ErrTarArchive):
		if exclude != "" {
			exclude = "; or " + exclude
		}
		return fmt.Errorf("%w (extract it, as with tar -xf, and give keyrate its files%s)", err, exclude)
	case !errors.As(err, &ue):
		return err
	case ue.FirstLine == "":
		formats = "--format"
	}
	if exclude == "" {
		return fmt.Errorf("%w (use %s)", err, formats)
	}
	return fmt.Errorf("%w (if it is not an access log, %s; if it is, name its format with %s)", err, exclude, formats)
}

// shellQuote writes s for a shell command line: as it is when every byte
// is safe there, else in single quotes.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-+,:/@%", c) >= 0) {
			safe = false
		}
	}
	if safe {
		return s
	}
	return input.QuotePath("'" + strings.ReplaceAll(s, "'", `'\''`) + "'")
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
		err, (*analysis.ByteSize)(new(int64(we.Window))).String(), input.QuotePath(we.File))
}
