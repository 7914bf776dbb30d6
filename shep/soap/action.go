package soap

import (
	"fmt"
	"strings"
)

// CanonicalAction is the SOAPAction header value the bus's own client
// sends: the empty quoted string, which in SOAP 1.1 means "the request URI
// and the Body say what is wanted". SHEP's clients send the same
// (research/bus.md §1.1), so an empty action is always consistent.
const CanonicalAction = `""`

// Actions returns the non-empty SOAPAction values (without quotes) that
// name the operation of message v: its element name (sendMessage), or that
// name under its channel's interface namespace, with or without the
// portType (http://bip.bee.kz/AsyncChannel/v10/Interfaces/IAsyncChannel/sendMessage).
// A Fault has none.
func Actions(v any) []string {
	op, ok := operationOf(v)
	if !ok {
		return nil
	}
	iface, port := NSAsyncIface, "IAsyncChannel"
	if op.ns == NSSyncTypes {
		iface, port = NSSyncIface, "ISyncChannel"
	}
	return []string{op.local, iface + "/" + op.local, iface + "/" + port + "/" + op.local}
}

// CheckAction reports, as a *FormatError, a SOAPAction header that does
// not fit message v. values are the header's values as received: none,
// one empty value ("" quoted or bare) or one of Actions(v), quoted or not,
// are consistent; two headers, an unbalanced quote or an action naming
// another operation are not, since a gateway or log that routes by the
// header would then disagree with what the bus does with the Body.
func CheckAction(values []string, v any) error {
	switch len(values) {
	case 0:
		return nil
	case 1:
	default:
		return formatErr("SOAPAction given %d times, want at most once", len(values))
	}
	raw := values[0]
	action := strings.TrimSpace(raw)
	if strings.HasPrefix(action, `"`) || strings.HasSuffix(action, `"`) {
		if len(action) < 2 || !strings.HasPrefix(action, `"`) || !strings.HasSuffix(action, `"`) {
			return formatErr("SOAPAction %q has an unbalanced quote", raw)
		}
		action = action[1 : len(action)-1]
	}
	if action == "" {
		return nil
	}
	for _, a := range Actions(v) {
		if action == a {
			return nil
		}
	}
	return &FormatError{
		Reason:    fmt.Sprintf("SOAPAction %q does not name the operation %s in the Body", raw, OperationName(v)),
		Operation: FaultOperation(v),
	}
}
