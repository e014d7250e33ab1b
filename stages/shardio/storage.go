package shardio

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"google.golang.org/api/googleapi"
)

// The GCS client retries transient failures (503, 429, reset connections)
// only of calls it knows to be idempotent: reads, lists, metadata. Uploads,
// deletes and copies made without preconditions — all that Beam's gs://
// filesystem makes — fail at the first fault. srdpo's writes are safe to
// repeat (the same bytes under a name unique to the attempt, a rename, a
// delete whose goal is absence), so they retry here, with the client's
// own test of what is transient.
var storageRetry = struct {
	first, most time.Duration
	attempts    int
}{first: 250 * time.Millisecond, most: 30 * time.Second, attempts: 10}

// RetryTransient runs op until it succeeds, fails for a reason that is not
// transient, or has been tried storageRetry.attempts times, waiting a
// jittered, doubling delay between tries. op learns whether it is a retry.
func RetryTransient(ctx context.Context, op func(retry bool) error) error {
	delay := storageRetry.first
	for attempt := 1; ; attempt++ {
		err := op(attempt > 1)
		if err == nil || !storage.ShouldRetry(err) {
			return err
		}
		if attempt == storageRetry.attempts {
			return fmt.Errorf("%w (still failing after %d attempts)", err, attempt)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay/2 + rand.N(delay/2+1)):
		}
		delay = min(2*delay, storageRetry.most)
	}
}

// IsNotExist tells whether err says a file or object is not there.
func IsNotExist(err error) bool {
	var ge *googleapi.Error
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, storage.ErrObjectNotExist) ||
		errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// WriteFile writes data to name, whole.
func WriteFile(ctx context.Context, fs filesystem.Interface, name string, data []byte) error {
	return RetryTransient(ctx, func(bool) error { return filesystem.Write(ctx, fs, name, data) })
}

// RemoveFile deletes name; a file already gone counts as removed (a retry
// after a delete whose answer was lost finds nothing).
func RemoveFile(ctx context.Context, fs filesystem.Interface, name string) error {
	rm, ok := fs.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("cannot remove %s: its filesystem has no Remove", name)
	}
	err := RetryTransient(ctx, func(bool) error { return rm.Remove(ctx, name) })
	if err != nil && !IsNotExist(err) {
		return fmt.Errorf("removing %s: %w", name, err)
	}
	return nil
}

// RenameFile moves src to dst. On GCS a rename is a copy then a delete; a
// retry after a fault that hid the delete's success finds src gone and dst
// in place, which is done.
func RenameFile(ctx context.Context, fs filesystem.Interface, src, dst string) error {
	err := RetryTransient(ctx, func(retry bool) error {
		err := filesystem.Rename(ctx, fs, src, dst)
		if err != nil && retry && IsNotExist(err) {
			if _, serr := fs.Size(ctx, dst); serr == nil {
				return nil
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("renaming %s to %s: %w", src, dst, err)
	}
	return nil
}

// WriteAtomically renders a file in memory, writes it under a temporary
// name and renames it into place, so readers never see half a file and a
// retried attempt leaves exactly one.
func WriteAtomically(ctx context.Context, name string, render func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	return WriteStreaming(ctx, name, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
}

// WriteStreaming writes a file through render under a temporary name and
// renames it into place, streaming: the file is never whole in memory
// (WriteAtomically renders it first, for writes that must not be rendered
// twice). On a transient storage error the whole file is rendered again.
func WriteStreaming(ctx context.Context, name string, render func(io.Writer) error) error {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	tmp := name + ".tmp-" + randomHex()
	err = RetryTransient(ctx, func(bool) error {
		w, err := fs.OpenWrite(ctx, tmp)
		if err != nil {
			return err
		}
		if err := render(w); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	})
	if err != nil {
		RemoveFile(ctx, fs, tmp)
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := RenameFile(ctx, fs, tmp, name); err != nil {
		RemoveFile(ctx, fs, tmp)
		return err
	}
	return nil
}

func randomHex() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ReadAll reads a whole file, local or on a Beam filesystem: Arrow and
// Parquet readers need random access.
func ReadAll(ctx context.Context, path string) ([]byte, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	b, err := filesystem.Read(ctx, fs, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}
