# vmmu_module(NAME SOURCES ... [LIBS ...] [FREESTANDING])
#
# Declares module NAME as an object library (so its objects can go into
# libvmmu) plus a static library vmmu_NAME for tests and tools. FREESTANDING
# modules are compiled with -ffreestanding, and vmmu_freestanding_check()
# compiles them once more with -nostdinc against a shim of the four allowed
# headers plus memcpy/memmove/memset/memcmp, for x86-64 and 32-bit x86, so
# that a libc header or symbol fails the build.
function(vmmu_module name)
  cmake_parse_arguments(M "FREESTANDING" "" "SOURCES;LIBS" ${ARGN})
  add_library(vmmu_${name}_obj OBJECT ${M_SOURCES})
  target_include_directories(vmmu_${name}_obj PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}>)
  set_target_properties(vmmu_${name}_obj PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(M_FREESTANDING)
    target_compile_options(vmmu_${name}_obj PRIVATE -ffreestanding)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
    foreach(s ${M_SOURCES})
      set_property(GLOBAL APPEND PROPERTY VMMU_FREESTANDING_SOURCES ${rel}/${s})
    endforeach()
  endif()
  if(M_LIBS)
    target_link_libraries(vmmu_${name}_obj PUBLIC ${M_LIBS})
  endif()
  add_library(vmmu_${name} STATIC $<TARGET_OBJECTS:vmmu_${name}_obj>)
  target_link_libraries(vmmu_${name} PUBLIC vmmu_${name}_obj)
  set_property(GLOBAL APPEND PROPERTY VMMU_MODULES ${name})
endfunction()

# libvmmu: every module's objects in one static library.
function(vmmu_add_public_library)
  get_property(mods GLOBAL PROPERTY VMMU_MODULES)
  set(objs "")
  set(libs "")
  foreach(m ${mods})
    list(APPEND objs $<TARGET_OBJECTS:vmmu_${m}_obj>)
    list(APPEND libs vmmu_${m}_obj)
  endforeach()
  add_library(vmmu STATIC ${objs})
  target_link_libraries(vmmu PUBLIC ${libs})
  target_include_directories(vmmu PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS vmmu ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()

# The freestanding check (see vmmu_module); part of the default build.
function(vmmu_freestanding_check)
  get_property(srcs GLOBAL PROPERTY VMMU_FREESTANDING_SOURCES)
  set(out ${CMAKE_BINARY_DIR}/freestanding-check)
  set(deps "")
  foreach(s ${srcs})
    list(APPEND deps ${PROJECT_SOURCE_DIR}/${s})
  endforeach()
  file(GLOB_RECURSE hdrs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/vmmu/*.h
    ${PROJECT_SOURCE_DIR}/core/*.h ${PROJECT_SOURCE_DIR}/ept/*.h
    ${PROJECT_SOURCE_DIR}/npt/*.h)
  add_custom_command(OUTPUT ${out}/stamp
    COMMAND bash ${PROJECT_SOURCE_DIR}/cmake/freestanding/check.sh
      ${CMAKE_C_COMPILER} ${out} ${PROJECT_SOURCE_DIR} -- ${srcs}
    DEPENDS ${deps} ${hdrs} ${PROJECT_SOURCE_DIR}/cmake/freestanding/check.sh
    COMMENT "Checking that the freestanding modules need no libc")
  add_custom_target(freestanding_check ALL DEPENDS ${out}/stamp)
endfunction()
