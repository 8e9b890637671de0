/* Tests that write half a frame on the worker's own channel and block: the
 * runner must end each at its time limit (issue 12, item 4). The channel
 * is the worker's "--fd N" argument. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotbox/plugin.h>

static int channel_fd(void)
{
    char cl[4096];
    int f = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    ssize_t n = read(f, cl, sizeof(cl) - 1);
    close(f);
    for (ssize_t i = 0; i + 6 < n; i++)
        if (!memcmp(cl + i, "--fd", 5))
            return atoi(cl + i + 5);
    return -1;
}

static int half_frame_then_block(size_t n)
{
    unsigned char h[12] = {0};
    uint32_t len = (64u << 20) - 1u; /* within the protocol limit */
    memcpy(h, &len, 4);
    h[4] = 128;
    int fd = channel_fd();
    if (fd < 0 || write(fd, h, n) < 0)
        return 1;
    for (;;)
        pause();
}

HB_EXPORT_FN int hb_test_five_bytes(void) { return half_frame_then_block(5); }
HB_EXPORT_FN int hb_test_header_only(void) { return half_frame_then_block(12); }
HB_EXPORT_FN int hb_test_after(void) { return 0; }
HB_EXPORT_FN int32_t five_bytes(void) { return half_frame_then_block(5); }

HB_PLUGIN("thalfframe", 1, 0, 0, 0, 0);
