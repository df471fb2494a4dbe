package input

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Skipped is a path ExpandPaths found but left out, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ExpandPaths turns command-line arguments into the ordered list of
// inputs:
//   - "-" is standard input, stdin (nil when there is none to tell apart
//     from the files: "-" is then listed as named);
//   - a file is itself, whatever its kind (a FIFO or a process
//     substitution named on the command line is read as a stream);
//   - a directory contributes the files under it, recursively, in sorted
//     order, following symbolic links (each directory once, so a link
//     back up cannot loop);
//   - anything else is a glob that must match something, and each match is
//     expanded as above;
//   - a path matching one of the exclude globs (filepath.Match syntax),
//     as a whole or by its base name, is left out, and so is what is
//     under a directory that matches ("-" is never excluded).
//
// A file reached twice, under one name or several (a directory and a
// glob over it, a link beside its target), is listed once: read twice,
// its requests would count twice. What is left out is returned in
// skipped, for the caller to report: such repeats, and the entries of a
// directory that are not files (FIFOs, sockets, devices, dangling links),
// which a walk must not block on or guess about.
func ExpandPaths(args []string, stdin *os.File, exclude []string) (paths []string, skipped []Skipped, err error) {
	if err := CheckExclude(exclude); err != nil {
		return nil, nil, err
	}
	e := expansion{files: map[fileID]string{}, listed: map[fileID]bool{}, dirs: map[fileID]string{}, exclude: exclude}
	for _, arg := range args {
		if arg == "-" {
			if e.stdin {
				e.skipped = append(e.skipped, Skipped{Path: arg, Reason: "standard input, named again"})
				continue
			}
			e.stdin = true
			// Standard input redirected from a file is that file, which
			// may be named too ("- a.log < a.log").
			if st, err := stdin.Stat(); err == nil && st.Mode().IsRegular() {
				e.addFile(arg, st)
			} else {
				e.paths = append(e.paths, arg)
			}
			continue
		}
		st, err := os.Stat(arg)
		if err == nil {
			if e.excluded(arg) {
				continue
			}
			if err := e.add(arg, st); err != nil {
				return nil, nil, err
			}
			continue
		}
		matches, gerr := filepath.Glob(arg)
		if gerr != nil || len(matches) == 0 {
			if gerr == nil && errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(arg, `*?[`) {
				return nil, nil, fmt.Errorf("%s: no file matches this pattern", QuotePath(arg))
			}
			// Not "a.log: stat a.log: ...": the path once.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, nil, fmt.Errorf("%s: %w", QuotePath(arg), err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if e.excluded(m) {
				continue
			}
			st, err := os.Stat(m)
			if err == nil {
				err = e.add(m, st)
			}
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if len(e.paths) == 0 {
		if e.excludedAny {
			return nil, e.skipped, fmt.Errorf("no input files in %q: every one is excluded (%q)", args, exclude)
		}
		return nil, e.skipped, fmt.Errorf("no input files in %q", args)
	}
	return e.paths, e.skipped, nil
}

// expansion is ExpandPaths' state: the inputs so far and what each
// file and directory met is, by identity.
type expansion struct {
	paths   []string
	skipped []Skipped
	stdin   bool
	files   map[fileID]string // file → the path it is (to be) listed under
	listed  map[fileID]bool
	dirs    map[fileID]string // directory → the path it was walked under
	exclude []string
	// excludedAny says a path was left out by exclude.
	excludedAny bool
}

// CheckExclude reports an exclude glob that is not valid
// filepath.Match syntax.
func CheckExclude(exclude []string) error {
	for _, g := range exclude {
		if _, err := filepath.Match(g, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", g, err)
		}
	}
	return nil
}

// excluded reports whether path, or its base name, matches an exclude
// glob.
func (e *expansion) excluded(path string) bool {
	base := filepath.Base(path)
	for _, g := range e.exclude {
		if whole, _ := filepath.Match(g, path); whole {
			e.excludedAny = true
			return true
		}
		if b, _ := filepath.Match(g, base); b {
			e.excludedAny = true
			return true
		}
	}
	return false
}

// add lists path, which os.Stat described as st: the files under a
// directory in sorted order of their paths, or the file itself.
func (e *expansion) add(path string, st os.FileInfo) error {
	if !st.IsDir() {
		e.addFile(path, st)
		return nil
	}
	var found []foundFile
	if err := e.walk(path, st, &found); err != nil {
		return err
	}
	sort.Slice(found, func(i, j int) bool { return found[i].path < found[j].path })
	// A file found both by its own entry and through a link is listed
	// under its own: "current.log -> access.log" leaves out the link.
	for _, f := range found {
		if id := identify(f.path, f.st); !f.viaLink && e.files[id] == "" {
			e.files[id] = f.path
		}
	}
	for _, f := range found {
		e.addFile(f.path, f.st)
	}
	return nil
}

type foundFile struct {
	path    string
	st      os.FileInfo
	viaLink bool // the directory entry is a symbolic link
}

func (e *expansion) addFile(path string, st os.FileInfo) {
	id := identify(path, st)
	if first := e.files[id]; e.listed[id] || (first != "" && first != path) {
		e.skipped = append(e.skipped, Skipped{Path: path, Reason: "the same file as " + first})
		return
	}
	e.files[id] = path
	e.listed[id] = true
	e.paths = append(e.paths, path)
}

// walk appends the regular files under directory dir (described by st)
// to found.
func (e *expansion) walk(dir string, st os.FileInfo, found *[]foundFile) error {
	id := identify(dir, st)
	if first, ok := e.dirs[id]; ok { // walked already, or an ancestor: a link loop
		e.skipped = append(e.skipped, Skipped{Path: dir, Reason: "the same directory as " + first})
		return nil
	}
	e.dirs[id] = dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		p := filepath.Join(dir, ent.Name())
		if e.excluded(p) {
			continue
		}
		st, err := os.Stat(p) // follows links
		switch {
		case err != nil && os.IsNotExist(err):
			e.skipped = append(e.skipped, Skipped{Path: p, Reason: "a dangling symbolic link"})
		case err != nil && errors.Is(err, syscall.ELOOP):
			e.skipped = append(e.skipped, Skipped{Path: p, Reason: "a loop of symbolic links"})
		case err != nil:
			return err
		case st.IsDir():
			if err := e.walk(p, st, found); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			*found = append(*found, foundFile{p, st, ent.Type()&os.ModeSymlink != 0})
		default:
			e.skipped = append(e.skipped, Skipped{Path: p, Reason: "not a regular file (" + st.Mode().Type().String() + ")"})
		}
	}
	return nil
}

// pathID identifies a file by its cleaned absolute path.
func pathID(path string) fileID {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fileID{path: path}
}

// QuotePath returns path as it can be printed on one line of a log: as
// it is, or Go-quoted when it holds a control or format character or is
// not UTF-8 (a newline in a file name would otherwise forge a line of its
// own in keyrate's stderr).
func QuotePath(path string) string {
	if strings.ContainsFunc(path, UnsafeRune) {
		return strconv.Quote(path)
	}
	return path
}

// UnsafeRune reports whether r, met in text printed to a terminal or a
// line-oriented log, could forge or hide output: a control character
// (newline, escape), a format character (a bidirectional override) or a
// byte that is not UTF-8.
func UnsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
