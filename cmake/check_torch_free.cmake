# The compiler's proof that the torch-free core is torch-free: no file of legodnn_base or of its
# tests read a Torch header (ATen/, c10/, torch/). The dependency files the compiler wrote list
# every header each object read. Debian installs ATen in /usr/include, so leaving Torch's include
# path out is not enough. Run by CTest as base.NoTorchHeaders:
#   cmake -DBUILD_DIR=<build dir> -P cmake/check_torch_free.cmake
file(GLOB_RECURSE depfiles "${BUILD_DIR}/CMakeFiles/legodnn_base.dir/*.d"
     "${BUILD_DIR}/CMakeFiles/legodnn_base_tests.dir/*.d")
list(LENGTH depfiles n)
if(n EQUAL 0)
  message(FATAL_ERROR "no dependency files under ${BUILD_DIR}/CMakeFiles/legodnn_base*.dir: build legodnn_base_tests first")
endif()
set(leaks "")
foreach(d ${depfiles})
  file(STRINGS "${d}" hits REGEX "/(ATen|c10|torch)/")
  if(hits)
    list(GET hits 0 first)
    string(STRIP "${first}" first)
    list(APPEND leaks "${d}: ${first}")
  endif()
endforeach()
if(leaks)
  list(JOIN leaks "\n  " text)
  message(FATAL_ERROR "the torch-free core read Torch headers:\n  ${text}")
endif()
message(STATUS "${n} objects of legodnn_base and its tests read no Torch header")
