package loadgen

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Counts are what a progress report shows besides the time: requests sent
// and accepted so far.
type Counts func() (sent, accepted int64)

// ProgressOptions tune a progress report. Zero values take the defaults.
type ProgressOptions struct {
	// Terminal says whether w is a terminal: a live bar that redraws its
	// line. Default: detected (an *os.File that is a terminal). Elsewhere
	// (a CI log, a pipe, a file) a plain line is written every Interval, so
	// that a log gets whole lines and no carriage returns.
	Terminal *bool
	// Interval of the plain lines; default 5 s.
	Interval time.Duration
	// Refresh of the live bar; default 500 ms.
	Refresh time.Duration
}

// Progress reports how far a timed load run has come until Stop.
type Progress struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// StartProgress reports the progress of a run that began at begin and
// lasts total, with counts, on w until Stop.
func StartProgress(w io.Writer, begin time.Time, total time.Duration, counts Counts, opt ProgressOptions) *Progress {
	terminal := IsTerminal(w)
	if opt.Terminal != nil {
		terminal = *opt.Terminal
	}
	if opt.Interval <= 0 {
		opt.Interval = 5 * time.Second
	}
	if opt.Refresh <= 0 {
		opt.Refresh = 500 * time.Millisecond
	}
	p := &Progress{stop: make(chan struct{}), done: make(chan struct{})}
	if terminal {
		go p.bar(w, begin, total, counts, opt.Refresh)
	} else {
		go p.lines(w, begin, total, counts, opt.Interval)
	}
	return p
}

// Stop ends the report: the bar is completed and its line ended, or a
// last plain line is written. It returns once nothing more is written.
func (p *Progress) Stop() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

func fraction(begin time.Time, total time.Duration) float64 {
	if total <= 0 {
		return 1
	}
	return min(float64(time.Since(begin))/float64(total), 1)
}

func describe(counts Counts) string {
	sent, accepted := counts()
	return fmt.Sprintf("sent %d  accepted %d", sent, accepted)
}

// bar draws a live bar of the elapsed time in per mille.
func (p *Progress) bar(w io.Writer, begin time.Time, total time.Duration, counts Counts, refresh time.Duration) {
	defer close(p.done)
	bar := progressbar.NewOptions64(1000,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetDescription(describe(counts)),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetRenderBlankState(true),
	)
	t := time.NewTicker(refresh)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			bar.Describe(describe(counts))
			_ = bar.Set64(int64(fraction(begin, total) * 1000))
			fmt.Fprintln(w) // the bar's line ends here
			return
		case <-t.C:
			bar.Describe(describe(counts))
			_ = bar.Set64(int64(fraction(begin, total) * 1000))
		}
	}
}

// lines writes one plain line every interval and a last one at the end.
func (p *Progress) lines(w io.Writer, begin time.Time, total time.Duration, counts Counts, interval time.Duration) {
	defer close(p.done)
	line := func() {
		fmt.Fprintf(w, "  %3.0f%%  %s of %s  %s\n", fraction(begin, total)*100,
			time.Since(begin).Round(time.Second), total, describe(counts))
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			line()
			return
		case <-t.C:
			line()
		}
	}
}
