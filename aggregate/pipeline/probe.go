package pipeline

import (
	"context"
	"io"
	"math"

	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
)

// ProbeLines is how many lines holding a record Probe parses per input
// to say whether its format fits.
const ProbeLines = 10

// Probe is what a run would make of one input, judged from its head.
type Probe struct {
	// Name, Size (stored bytes; -1 for a stream) and Compression are the
	// input's as a run opens it.
	Name        string
	Size        int64
	Compression string
	// Format is the format a run reads the input as: detected (with
	// --format auto) or given; "empty" for an input without lines.
	Format string
	// Sampled counts the first lines holding a record (at most
	// ProbeLines) and Parsed those among them that parsed; header and
	// notice lines are not samples.
	Sampled, Parsed int64
	// Err is why the input cannot be read: it cannot be opened, its
	// stream is corrupt from the start, or no format matches it.
	Err error
}

// ProbeInputs opens each of paths as Run does, detects its format on the
// same path, and parses its first lines with the same line handling as
// the parse workers, so that --dry-run says exactly what a run will do.
// It stops early only when ctx is done.
func ProbeInputs(ctx context.Context, paths []string, cfg Config) ([]Probe, error) {
	comp, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	opener := input.Opener{Stdin: cfg.Stdin, ZstdWindow: input.ZstdWindowLimit(cfg.MemoryBytes)}
	defer opener.Close()
	r := newAggregator(cfg, comp, math.MaxInt64, nil)
	var out []Probe
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, r.probe(&opener, p))
	}
	return out, nil
}

func (r *aggregator) probe(opener *input.Opener, path string) Probe {
	pr := Probe{Name: path, Size: -1}
	in, err := opener.Open(path)
	if err != nil {
		pr.Err = err
		return pr
	}
	defer in.Close()
	pr.Name, pr.Size, pr.Compression = in.Name, in.Size, string(in.Compression)
	lines := input.NewLineReader(in, r.cfg.MaxLineBytes)
	var st FileStats
	newParser, columnar, err := r.chooseFormat(in, lines, &st)
	if err != nil {
		pr.Err = err
		return pr
	}
	if columnar {
		pr.Format = parse.FormatParquet
		return pr
	}
	parser := newParser()
	if pr.Format = st.Format; pr.Format == "" {
		pr.Format = parserName(parser)
	}
	for st.Parsed+st.Malformed < ProbeLines {
		line, err := lines.Next()
		switch {
		case err == io.EOF:
			pr.Sampled, pr.Parsed = st.Parsed+st.Malformed, st.Parsed
			return pr
		case err == parse.ErrLineTooLong:
			st.Malformed++
			continue
		case err != nil:
			pr.Err = err
			return pr
		}
		r.line(parser, &st, in.Name, lines.Line(), line)
	}
	pr.Sampled, pr.Parsed = st.Parsed+st.Malformed, st.Parsed
	return pr
}
