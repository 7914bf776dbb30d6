package gateway_test

import (
	"strings"
	"testing"
	"time"

	"egov/gateway"
)

// A service that follows another takes its terms: it may name nothing of
// its own but where its requests go.
func TestFollowingServicesAreChecked(t *testing.T) {
	base := `{"code":"base","label":"B","names":{"ru":"а","kk":"ә","en":"a"},"provider":{"ru":"а","kk":"ә","en":"a"},
		"results":{"positive":{"ru":"а","kk":"ә","en":"a"}},"portal":{"form":[],"documents":[]},
		"regions":{"aktobe":{"seed":"002","lines":"002:1","channels":{"portal":{"lines":"002:2","recipient":"x","steps":[
		{"role":{"ru":"а","kk":"ә","en":"a"},"action":{"ru":"а","kk":"ә","en":"a"},"minutes":5}]}}}}}`
	follower := func(follows, region string) string {
		return `{"code":"f","label":"F","follows":"` + follows + `","names":{"ru":"а","kk":"ә","en":"a"},"provider":{"ru":"а","kk":"ә","en":"a"},
		"results":{"positive":{"ru":"а","kk":"ә","en":"a"}},"portal":{"form":[],"documents":[]},"regions":{` + region + `}}`
	}
	own := `"aktobe":{"channels":{"portal":{"recipient":"y"}}}`
	tests := []struct {
		name, services string
		ok             bool
	}{
		{"follows with its own recipient", base + "," + follower("base", own), true},
		{"follows a service not in the catalogue", base + "," + follower("none", own), false},
		{"follows where the other has no portal", base + "," + follower("base", `"karaganda":{"channels":{"portal":{"recipient":"y"}}}`), false},
		{"names steps of its own", base + "," + follower("base", `"aktobe":{"channels":{"portal":{"recipient":"y","steps":[
			{"role":{"ru":"а","kk":"ә","en":"a"},"action":{"ru":"а","kk":"ә","en":"a"},"minutes":5}]}}}`), false},
		{"names a seed of its own", base + "," + follower("base", `"aktobe":{"seed":"002","channels":{"portal":{"recipient":"y"}}}`), false},
		{"follows a follower", base + "," + follower("base", own) + "," + strings.Replace(follower("f", own), `"code":"f"`, `"code":"g"`, 1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gateway.ParseCatalogue([]byte(`{"services":[` + tc.services + `]}`))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				return
			}
			_, ch, err := c.PortalChannel("f", "aktobe")
			if err != nil || ch.Recipient != "y" || ch.Term() != 5*time.Minute || ch.Lines != "002:2" {
				t.Fatalf("followed channel %+v, %v", ch, err)
			}
		})
	}
}
