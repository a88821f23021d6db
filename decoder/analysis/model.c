typedef int at_placeholder_;
