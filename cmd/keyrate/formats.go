package main

import (
	"fmt"
	"strings"

	"github.com/keyrate/keyrate/parse"
)

// formatConfig checks --log-format against --format and --field, and returns the
// pipeline format name and options.
func (o *analyzeOptions) formatConfig() (string, parse.FormatOptions, error) {
	fields, err := parse.ParseFieldMap(o.fields)
	if err != nil {
		return "", parse.FormatOptions{}, flagError(err)
	}
	if err := parse.CheckTimeChoice(o.time); err != nil {
		return "", parse.FormatOptions{}, flagError(err)
	}
	fopts := parse.FormatOptions{Fields: fields, LogFormat: o.logFormat, Time: o.time}
	format := strings.ToLower(o.format)
	if o.logFormat != "" {
		if format != parse.FormatAuto && format != parse.FormatLayout {
			return "", fopts, fmt.Errorf("--log-format and --format %s: give one or the other", o.format)
		}
		format = parse.FormatLayout
	}
	return format, fopts, nil
}
