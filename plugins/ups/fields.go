package main

import (
	"math"
	"strings"

	"github.com/towerd/towerd/plugins/internal/units"
	"github.com/towerd/towerd/sdk/schema"
)

// round2 keeps two decimals, enough for watts and volts.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// fillPower sets power_watts from a reported value, or from load × nominal
// when only those exist.
func fillPower(u *schema.UPS, reported float64, haveReported bool) {
	switch {
	case haveReported:
		u.PowerWatts = round2(reported)
	case u.NominalPowerWatts > 0:
		u.PowerWatts = round2(u.LoadPercent / 100 * u.NominalPowerWatts)
	}
}

// nutStatus maps NUT's ups.status flags ("OL", "OB DISCHRG", "OB LB", ...)
// to ONLINE/ONBATT/LOWBATT. Anything else (OFF, BYPASS, ...) is passed on
// as NUT wrote it.
func nutStatus(s string) string {
	flags := strings.Fields(s)
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	switch {
	case has("LB"):
		return "LOWBATT"
	case has("OB"):
		return "ONBATT"
	case has("OL"):
		return "ONLINE"
	case len(flags) == 0:
		return "UNKNOWN"
	}
	return strings.Join(flags, " ")
}

// fromNUT maps upsd variables to the payload.
func fromNUT(vars map[string]string) schema.UPS {
	u := schema.UPS{Connected: true, Status: nutStatus(vars["ups.status"])}
	if u.Status == "WAIT" { // the driver has not delivered data yet
		u.Connected = false
	}
	u.Model = vars["device.model"]
	if u.Model == "" {
		u.Model = vars["ups.model"]
	}
	setNumbers(vars, map[string]*float64{
		"battery.charge": &u.BatteryChargePercent, "ups.load": &u.LoadPercent,
		"input.voltage": &u.InputVoltage, "output.voltage": &u.OutputVoltage,
		"ups.realpower.nominal": &u.NominalPowerWatts,
	})
	if v, ok := units.Leading(vars["battery.runtime"]); ok {
		u.BatteryRuntimeSeconds = int64(v)
	}
	u.RuntimeLeftSeconds = u.BatteryRuntimeSeconds
	p, ok := units.Leading(vars["ups.realpower"])
	fillPower(&u, p, ok)
	return u
}

// apcStatus maps apcupsd's STATUS ("ONLINE", "ONBATT", "ONBATT LOWBATT",
// "ONLINE NOBATT", "COMMLOST", ...) to ONLINE/ONBATT/LOWBATT; connected is
// false when apcupsd has lost the UPS.
func apcStatus(s string) (status string, connected bool) {
	flags := strings.Fields(s)
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	switch {
	case has("COMMLOST"):
		return "COMMLOST", false
	case has("LOWBATT"):
		return "LOWBATT", true
	case has("ONBATT"):
		return "ONBATT", true
	case has("ONLINE"):
		return "ONLINE", true
	case len(flags) == 0:
		return "UNKNOWN", true
	}
	return strings.Join(flags, " "), true
}

// fromAPC maps apcupsd NIS status records to the payload.
func fromAPC(rec map[string]string) schema.UPS {
	var u schema.UPS
	u.Status, u.Connected = apcStatus(rec["STATUS"])
	u.Model = rec["MODEL"]
	if u.Model == "" {
		u.Model = rec["UPSNAME"]
	}
	setNumbers(rec, map[string]*float64{
		"BCHARGE": &u.BatteryChargePercent, "LOADPCT": &u.LoadPercent,
		"LINEV": &u.InputVoltage, "OUTPUTV": &u.OutputVoltage, "NOMPOWER": &u.NominalPowerWatts,
	})
	if v, ok := units.Leading(rec["TIMELEFT"]); ok { // minutes
		u.BatteryRuntimeSeconds = int64(math.Round(v * 60))
	}
	u.RuntimeLeftSeconds = u.BatteryRuntimeSeconds
	fillPower(&u, 0, false) // apcupsd reports no real power
	return u
}

// setNumbers stores the leading number of each key's value into its field,
// leaving fields whose key is absent or not a number as they are.
func setNumbers(values map[string]string, fields map[string]*float64) {
	for key, field := range fields {
		if v, ok := units.Leading(values[key]); ok {
			*field = v
		}
	}
}
