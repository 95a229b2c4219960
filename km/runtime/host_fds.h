// km's host descriptors as a whole, for the two moments km must sort its own from the payload's:
// a forked child keeps only the payload's, and an execve hands only the payload's to the next km.
#pragma once

#include <vector>

namespace km {

// Every descriptor open in km now, in increasing order.
std::vector<int> OpenHostFds();

}  // namespace km
