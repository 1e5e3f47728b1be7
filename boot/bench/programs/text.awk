# Writes LINES lines of pseudo-random words and numbers (compressible, not trivially):
# `awk -v lines=N -f text.awk`.
BEGIN {
    seed = 7
    split("the of and to in is was for on that with as by at from lorem ipsum dolor sit amet", vocabulary, " ")
    for (i = 0; i < lines; i++) {
        line = ""
        for (w = 0; w < 12; w++) {
            seed = (seed * 16807) % 2147483647
            line = line vocabulary[1 + seed % 19] (seed % 5 == 0 ? " " seed % 1000 : "") " "
        }
        print line
    }
}
