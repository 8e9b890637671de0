// Live++ / RCC++ "vtable after reload" checks, ported. A static object with
// a vtable carries the old object's vtable pointer, so hotbox resets it (the
// new version's constructor ran at load: new code, initial value). An
// object made with new by the old version keeps its old vtable: it runs the
// old code, without crashing (the old object stays mapped). The tests edit
// SCALE with sed.
#include <hotbox/plugin.h>
#include <cstdint>

#define SCALE 1

struct Shape {
    virtual ~Shape() {}
    virtual int64_t area() const = 0;
};

struct Square : Shape {
    int64_t side;
    explicit Square(int64_t s) : side(s) {}
    int64_t area() const override { return side * side * SCALE; }
};

static Square square(3);        // static object: reset at a reload
static Shape *made = nullptr;   // heap object of the version that made it

HB_EXPORT_FN int64_t grow(void) { return ++square.side; }
// Through the vtable, as a caller holding a Shape& would: a static object's
// call is otherwise devirtualized by the compiler.
__attribute__((noinline)) static int64_t area_of(const Shape &s) { return s.area(); }
HB_EXPORT_FN int64_t static_area(void) { return area_of(square); }
HB_EXPORT_FN int64_t make(int64_t side)
{
    delete made;
    made = new Square(side);
    return made->area();
}
HB_EXPORT_FN int64_t made_area(void) { return made ? made->area() : -1; }

HB_PLUGIN("vtable", 1, 0, 0, 0, 0);
