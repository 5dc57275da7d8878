// LEGODNN_INTERNAL_ASSERT (util/error.h): what cannot happen is an InternalError, not a library Error, so
// code catching the errors it expects lets a bug through; its message is built only on failure.
#include <string>

#include <gtest/gtest.h>

#include "legodnn/util/error.h"

using namespace legodnn;

TEST(InternalAssert, FailureIsAnInternalErrorNamingTheConditionAndBuiltOnlyOnFailure) {
  int built = 0;
  auto detail = [&] {
    ++built;
    return std::string("the detail");
  };
  LEGODNN_INTERNAL_ASSERT(1 + 1 == 2, detail());
  LEGODNN_INTERNAL_ASSERT(true);
  EXPECT_EQ(built, 0);
  bool caught = false;
  try {
    LEGODNN_INTERNAL_ASSERT(1 + 1 == 3, detail());
  } catch (const Error&) {
    ADD_FAILURE() << "an internal error must not be caught as a library Error";
  } catch (const InternalError& e) {
    caught = true;
    const std::string what = e.what();
    EXPECT_NE(what.find("internal error"), std::string::npos) << what;
    EXPECT_NE(what.find("1 + 1 == 3"), std::string::npos) << what;
    EXPECT_NE(what.find("the detail"), std::string::npos) << what;
    EXPECT_NE(what.find("test_internal_assert.cpp"), std::string::npos) << what;
  }
  EXPECT_TRUE(caught);
  EXPECT_EQ(built, 1);
}
