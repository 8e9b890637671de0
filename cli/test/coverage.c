/* cli/test/coverage.c - --coverage DIR (stub). */
#include "test.h"
