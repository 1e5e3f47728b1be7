# Writes an SVG drawing (size 800x800) of SHAPES pseudo-random curves, circles and polygons
# with gradients, opacity, transforms and a blur: `awk -v shapes=N -f svg.awk`.
function rand31() { seed = (seed * 16807) % 2147483647; return seed }
function pick(n) { return rand31() % n }
BEGIN {
    seed = 42
    print "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"800\" viewBox=\"0 0 800 800\">"
    print "<defs>"
    for (g = 0; g < 8; g++) {
        printf "<linearGradient id=\"g%d\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">", g
        printf "<stop offset=\"0\" stop-color=\"#%06x\"/><stop offset=\"1\" stop-color=\"#%06x\"/>", pick(16777216), pick(16777216)
        print "</linearGradient>"
        printf "<radialGradient id=\"r%d\"><stop offset=\"0\" stop-color=\"#%06x\"/>", g, pick(16777216)
        printf "<stop offset=\"1\" stop-color=\"#%06x\" stop-opacity=\"0.2\"/></radialGradient>\n", pick(16777216)
    }
    print "<filter id=\"blur\"><feGaussianBlur stdDeviation=\"3\"/></filter>"
    print "</defs>"
    print "<rect width=\"800\" height=\"800\" fill=\"url(#g0)\"/>"
    for (i = 0; i < shapes; i++) {
        kind = i % 3
        opacity = 0.3 + pick(70) / 100
        if (kind == 0) {
            printf "<path d=\"M%d %d", pick(800), pick(800)
            for (c = 0; c < 4; c++) printf " C%d %d %d %d %d %d", pick(800), pick(800), pick(800), pick(800), pick(800), pick(800)
            printf "\" fill=\"none\" stroke=\"url(#g%d)\" stroke-width=\"%d\" stroke-linecap=\"round\" opacity=\"%.2f\"/>\n", pick(8), 1 + pick(12), opacity
        } else if (kind == 1) {
            printf "<circle cx=\"%d\" cy=\"%d\" r=\"%d\" fill=\"url(#r%d)\" opacity=\"%.2f\"%s/>\n", pick(800), pick(800), 10 + pick(120), pick(8), opacity, (i % 10 == 1) ? " filter=\"url(#blur)\"" : ""
        } else {
            printf "<polygon transform=\"rotate(%d 400 400) scale(%.2f)\" points=\"", pick(360), 0.5 + pick(100) / 100
            for (c = 0; c < 6; c++) printf "%d,%d ", pick(800), pick(800)
            printf "\" fill=\"#%06x\" fill-opacity=\"%.2f\" stroke=\"#222\" stroke-width=\"1.5\"/>\n", pick(16777216), opacity
        }
    }
    print "</svg>"
}
