// FileEntry is part of the wire codec and lives in protocol/file_entry.h, so the codec links
// without the file system layer. This forward keeps older includes building; new code includes
// protocol/file_entry.h.
#pragma once

#include "protocol/file_entry.h"
