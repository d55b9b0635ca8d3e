/* The digits example's data, as the .npy files hold it (HalfStep's Tools/examples/digits): a real
 * firmware gets its samples from a sensor instead. */
    .section .rodata.digits, "a"
    .balign 16
    .global digits_train_x, digits_train_y, digits_test_x, digits_test_y
digits_train_x: .incbin "shifted-train-x.npy"
    .balign 16
digits_train_y: .incbin "shifted-train-y.npy"
    .balign 16
digits_test_x: .incbin "shifted-test-x.npy"
    .balign 16
digits_test_y: .incbin "shifted-test-y.npy"
