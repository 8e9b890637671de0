/* The functions the scale plugin provides to other plugins. */
#ifndef EXAMPLE_SCALE_H
#define EXAMPLE_SCALE_H
#include <stdint.h>
int64_t scale(int64_t x);
int64_t scale_factor(void);
#endif
