package devstack

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// LastLines returns the last n lines of s, to explain a process's failure.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogFiles is a Config.Log that writes each process's output to
// <dir>/<name>.log, for runs whose story must not be buried in logs.
type LogFiles struct {
	Dir   string
	files []*os.File
	err   error
}

// Open returns the file for name's output; a file that cannot be created
// leaves the output to the process's tail and is reported by Close.
func (l *LogFiles) Open(name string) io.Writer {
	f, err := os.Create(filepath.Join(l.Dir, name+".log"))
	if err != nil {
		l.err = errors.Join(l.err, err)
		return io.Discard
	}
	l.files = append(l.files, f)
	return f
}

// Close closes every file and reports any that could not be created.
func (l *LogFiles) Close() error {
	err := l.err
	for _, f := range l.files {
		err = errors.Join(err, f.Close())
	}
	return err
}
