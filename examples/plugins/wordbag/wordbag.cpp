// wordbag: a C++ plugin using the standard library.
//
// Counts words across calls; the counts survive hot reloads (save/migrate
// write them as "word count\n" lines). hotbox compiles *.cpp with g++ and
// links with it; HB_PLUGIN and HB_EXPORT_FN give the names C linkage.
//
//     hotbox call examples/plugins/wordbag -- wordbag add 'Z)i' 'to be or not to be'
//     4
#include <hotbox/plugin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::map<std::string, int> counts;

std::vector<std::string> split_words(const std::string &text)
{
    std::vector<std::string> words;
    std::istringstream in(text);
    for (std::string w; in >> w;)
        words.push_back(w);
    return words;
}

int wordbag_save(void **data, size_t *len)
{
    std::string out;
    for (const auto &kv : counts)
        out += kv.first + " " + std::to_string(kv.second) + "\n";
    void *p = std::malloc(out.size() + 1);
    if (!p)
        return -1;
    std::memcpy(p, out.data(), out.size());
    *data = p;
    *len = out.size();
    return 0;
}

int wordbag_migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1)
        return -1;
    std::istringstream in(std::string(static_cast<const char *>(data), len));
    std::string w;
    int n;
    while (in >> w >> n)
        counts[w] = n;
    return 0;
}

} // namespace

// Adds the words of text; returns how many distinct words the bag holds.
HB_EXPORT_FN int32_t add(const char *text)
{
    for (const auto &w : split_words(text))
        counts[w]++;
    return static_cast<int32_t>(counts.size());
}

// How often a word was added.
HB_EXPORT_FN int32_t count(const char *word)
{
    auto it = counts.find(word);
    return it == counts.end() ? 0 : it->second;
}

// The most frequent word's count; throws on an empty bag (a C++ exception
// escaping a plugin function is reported as a plugin failure with its what()).
HB_EXPORT_FN int32_t top(void)
{
    if (counts.empty())
        throw std::runtime_error("wordbag is empty");
    auto it = std::max_element(counts.begin(), counts.end(),
                               [](const auto &a, const auto &b) { return a.second < b.second; });
    return it->second;
}

HB_EXPORT_FN int hb_test_split(void)
{
    return split_words("  a b  c ").size() == 3 ? 0 : 1;
}

HB_PLUGIN("wordbag", 1, 0, 0, wordbag_save, wordbag_migrate);
