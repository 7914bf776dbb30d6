package ops

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// MaskIINs hides the middle of every run of exactly twelve digits in s
// (an IIN or a BIN: 791028302728 becomes 7910******28), as
// signing.MaskIIN does for one. Longer or shorter runs of digits
// (timestamps, stream ids, phone numbers) are left alone.
func MaskIINs(s string) string {
	var b *strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i == 12 {
			if b == nil {
				b = &strings.Builder{}
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(s[i : i+4])
			b.WriteString("******")
			b.WriteString(s[i+10 : j])
			last = j
		}
		i = j
	}
	if b == nil {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maskAttr is the loggers' ReplaceAttr: the message and every value that
// prints as text go through MaskIINs, so that no line, whatever a caller
// passed (an error quoting a Redis key, a request path), holds an IIN in
// full.
func maskAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); MaskIINs(s) != s {
			a.Value = slog.StringValue(MaskIINs(s))
		}
	case slog.KindInt64, slog.KindUint64:
		// An IIN that travelled as a number.
		if s := a.Value.String(); len(s) == 12 {
			a.Value = slog.StringValue(MaskIINs(s))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
			a.Value = slog.StringValue(MaskIINs(s))
			return a
		case fmt.Stringer:
			s = v.String()
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprintf("%+v", v)
		}
		if m := MaskIINs(s); m != s {
			a.Value = slog.StringValue(m)
		}
	}
	return a
}

// NewLogger returns the logger of a process: text, or JSON with asJSON, at
// level and above, masking IINs.
func NewLogger(w io.Writer, level slog.Leveler, asJSON bool) *slog.Logger {
	opt := &slog.HandlerOptions{Level: level, ReplaceAttr: maskAttr}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opt))
	}
	return slog.New(slog.NewTextHandler(w, opt))
}

// ParseLevel reads a --log-level: debug, info, warn or error (or a level
// with an offset, as slog writes them: warn+2).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// EnvLogLevel names the environment variable of the default log level.
const EnvLogLevel = "EGOV_LOG_LEVEL"

// LogLevelFlag defines --log-level on fs, by default info (the program's
// settings give it $EGOV_LOG_LEVEL); parse it with ParseLevel.
func LogLevelFlag(fs *flag.FlagSet) *string {
	return fs.String("log-level", "info", LogLevelUsage)
}

// LogLevelUsage is the help text of --log-level.
const LogLevelUsage = "log level: debug, info, warn or error ($" + EnvLogLevel + ")"
