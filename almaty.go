package egov

import (
	"time"
	_ "time/tzdata" // Asia/Almaty on machines without a zoneinfo database
)

// Almaty is the time zone of the regulations' terms and calendar days and
// of the registers' dates: every "day" in this project is a day in Almaty.
var Almaty = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		panic(err) // unreachable: time/tzdata is embedded
	}
	return loc
}()
