package dashboard

// NextCases are the sign-in "next" forms of TestSafeNext, for the HTTP tests.
var NextCases = nextCases
