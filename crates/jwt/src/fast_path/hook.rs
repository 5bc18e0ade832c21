//! What the one pass tells about the outermost object, and to whom: the hook.

/// What the value of an outermost member is made of, told to a [`TopLevel`] hook while `T`
/// reads it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// A number, as [`serde_json::Number::as_f64`] gives it.
    Number(f64),
    /// An array begins; its members follow, each as [`Scalar::Item`] if it is a string.
    Array,
    /// A string member of the array that began last.
    Item(&'a str),
}

/// What a one-pass read reports about the members of the outermost object.
pub(super) trait TopLevel {
    /// The name of an outermost member, as it is read (duplicates never reach it). Returns
    /// whether [`value`](Self::value) should be told what its value is made of.
    fn member(&mut self, name: &str) -> bool;

    /// Part of the value of the member [`member`](Self::member) last asked for. Anything
    /// that is not a [`Scalar`] (an object, a boolean, `null`, an array in an array, an array
    /// member that is not a string, or a value `T` reads in a way this cannot follow) fails
    /// the read, as does an error returned here.
    fn value(&mut self, part: Scalar<'_>) -> Result<(), String>;

    /// The outermost object has been read to its end.
    fn end(&mut self);
}

/// Wants nothing.
pub(super) struct NoHook;

impl TopLevel for NoHook {
    fn member(&mut self, _: &str) -> bool {
        false
    }

    fn value(&mut self, _: Scalar<'_>) -> Result<(), String> {
        Ok(())
    }

    fn end(&mut self) {}
}
