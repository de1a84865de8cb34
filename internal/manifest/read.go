package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Extensions are the file name extensions read from directories. A file
// given by name is read whatever its extension.
var Extensions = []string{".yaml", ".yml", ".json"}

// ReadPaths reads files, directories (recursively, files with one of
// Extensions, in lexical order, skipping hidden directories such as .git)
// and "-" for stdin. A path reached twice is read once. It fails on the
// first file that cannot be read or parsed.
func ReadPaths(paths []string, stdin io.Reader) ([]*File, error) {
	var files []*File
	seen := map[string]bool{}
	stdinRead := false
	for _, p := range paths {
		if p == "-" {
			if stdinRead {
				return nil, errors.New(`"-" (stdin) is given more than once`)
			}
			stdinRead = true
			if stdin == nil {
				return nil, errors.New(`"-" (stdin) cannot be read here: give a file or directory`)
			}
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading stdin: %w", err)
			}
			f, err := Parse(StdinName, data)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
			continue
		}
		names, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			key := name
			if abs, err := filepath.Abs(name); err == nil {
				key = abs
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			f, err := ReadFile(name)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

// ReadFile reads and parses one file.
func ReadFile(name string) (*File, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, readError(name, err)
	}
	return Parse(name, data)
}

// expand turns a path into the files to read.
func expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, readError(p, err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var names []string
	err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return readError(name, err)
		}
		if d.IsDir() {
			if name != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !hasManifestExtension(name) {
			return nil
		}
		// A symbolic link is followed; one to a directory is not descended into.
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Stat(name)
			if err != nil {
				return readError(name, err)
			}
			if target.IsDir() {
				return nil
			}
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, &Error{File: p, Msg: fmt.Sprintf("directory has no %s files (hidden directories are skipped)", strings.Join(Extensions, ", "))}
	}
	return names, nil
}

func hasManifestExtension(name string) bool {
	return slices.Contains(Extensions, strings.ToLower(filepath.Ext(name)))
}

func readError(name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{File: name, Msg: "no such file or directory"}
	case errors.Is(err, fs.ErrPermission):
		return &Error{File: name, Msg: "permission denied"}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &Error{File: name, Msg: pe.Err.Error()}
	}
	return &Error{File: name, Msg: err.Error()}
}
