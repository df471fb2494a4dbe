package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/keyrate/keyrate/parse/input"
)

// diag is where keyrate's diagnostics go: stderr, as terse "keyrate: ..."
// lines for people (--stderr-format text) or one JSON object per line for
// log shippers (--stderr-format json). --quiet keeps warnings and errors.
type diag struct {
	w    io.Writer
	log  *slog.Logger
	json bool
}

func newDiag(w io.Writer) *diag {
	d := &diag{w: w}
	d.configure("text", false)
	return d
}

// configure switches the format and level once the flags are known.
func (d *diag) configure(format string, quiet bool) error {
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	d.json = format == "json"
	switch format {
	case "text":
		d.log = slog.New(&textHandler{w: d.w, level: level, mu: &sync.Mutex{}})
	case "json":
		d.log = slog.New(slog.NewJSONHandler(d.w, &slog.HandlerOptions{Level: level}))
	default:
		return fmt.Errorf("--stderr-format %q: want text or json", format)
	}
	return nil
}

// textHandler writes "keyrate: [warning: ]MSG key=value ...", one line
// per record, without time or level noise: cron mails and terminals are
// read by people.
type textHandler struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("keyrate: ")
	if r.Level == slog.LevelWarn {
		b.WriteString("warning: ")
	}
	b.WriteString(escapeUnsafe(r.Message))
	write := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(quoteIfNeeded(a.Value.Resolve().String()))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	return &h2
}

// WithGroup is not used by keyrate; groups are flattened.
func (h *textHandler) WithGroup(string) slog.Handler { return h }

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}

// escapeUnsafe writes the runes of s that could forge or hide a line of
// output (a newline or escape sequence in a file name that an error
// quotes, see input.UnsafeRune) as Go escapes: every record stays one
// line, whatever the paths and values it names.
func escapeUnsafe(s string) string {
	if !strings.ContainsFunc(s, input.UnsafeRune) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, `\x%02x`, s[i]) // a byte that is not UTF-8
		case input.UnsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
